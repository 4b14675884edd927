; vga_draw_13h: the 13h pattern of vga_draw.inc.
%define TEST_NAME "vga_draw_13h"
%define VGA_MODE 0x13
%include "tests/vga_draw.inc"
