; vga_draw_text: the text pattern of vga_draw.inc.
%define TEST_NAME "vga_draw_text"
%define VGA_MODE 3
%include "tests/vga_draw.inc"
