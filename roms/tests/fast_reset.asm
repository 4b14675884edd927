; fast_reset: a 0 -> 1 write to port 0x92 bit 0 resets the machine. On the first boot it marks RAM
; (which survives a reset) and asks for the reset; on the second it checks that A20 is back on and
; exits with code 0. With -no-reboot vx86 exits (status 0) at the reset request instead.
%define TEST_NAME "fast_reset"
%include "rom_common.inc"
MAGIC equ 0x0502
start:
        SETUP
        cmp word [MAGIC], 0x7EA5
        je .second
        mov word [MAGIC], 0x7EA5
        PRINT {"fast_reset: first boot, resetting through port 0x92", 10}
        in al, 0x92
        and al, ~0x02                    ; A20 off as well: the reset must turn it back on
        out 0x92, al
        or al, 0x01
        out 0x92, al
.wait:  jmp .wait                        ; the reset takes effect at the end of the OUT
.second:
        in al, 0x92
        and al, 0x03
        CHECKB al, 0x02, 2, "port 0x92 after the reset (A20 on, reset bit clear)"
        PRINT {"fast_reset: reset through port 0x92: ok", 10}
        PASS
        ROM_END
