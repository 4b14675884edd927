; vga_draw_vbe32: the vbe32 pattern of vga_draw.inc.
%define TEST_NAME "vga_draw_vbe32"
%define VGA_MODE 0x118
%include "tests/vga_draw.inc"
