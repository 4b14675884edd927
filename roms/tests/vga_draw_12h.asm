; vga_draw_12h: the 12h pattern of vga_draw.inc.
%define TEST_NAME "vga_draw_12h"
%define VGA_MODE 0x12
%include "tests/vga_draw.inc"
