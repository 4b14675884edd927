; vga_draw_modex: the modex pattern of vga_draw.inc.
%define TEST_NAME "vga_draw_modex"
%define VGA_MODE 0x58
%include "tests/vga_draw.inc"
