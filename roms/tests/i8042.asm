; i8042: the keyboard controller on the board. Controller self-test and interface test, the
; keyboard's echo, and the A20 gate through the output port (0xD0/0xD1) with port 0x92's A20 bit
; off, so the i8042 alone decides (the board ORs the two).
%define TEST_NAME "i8042"
%include "rom_common.inc"

LOW   equ 0x0500                         ; 0000:0500
HIGH  equ 0x0510                         ; FFFF:0510 = linear 0x100500

start:
        SETUP
        mov ax, 0xFFFF
        mov es, ax
        mov al, 0x20                     ; command byte: IRQs off (polling)
        call cmd
        call read_data
        and al, 0xFC
        mov bl, al
        mov al, 0x60
        call cmd
        mov al, bl
        call write_data

        mov al, 0xAA
        call cmd
        call read_data
        CHECKB al, 0x55, 2, "controller self-test (0xAA)"
        in al, 0x64
        and al, 0x04
        CHECKB al, 0x04, 2, "status SYS flag after self-test"
        mov al, 0xAB
        call cmd
        call read_data
        CHECKB al, 0x00, 3, "keyboard interface test (0xAB)"
        PRINT {"i8042 self-test 0x55, interface test 0x00: ok", 10}

        mov al, 0xEE                     ; keyboard echo
        call write_data
        call read_data
        CHECKB al, 0xEE, 4, "keyboard echo"
        PRINT {"keyboard echo: ok", 10}

        ; ---- A20 through the output port ----
        in al, 0x92
        and al, 0xFC                     ; port 0x92: A20 off, no reset
        out 0x92, al
        mov al, 0xD0
        call cmd
        call read_data
        mov bl, al
        test bl, 0x02
        jnz .on_at_start
        FAIL 5, "output port A20 bit clear at start"
.on_at_start:
        mov byte [LOW], 0xAA
        mov byte [es:HIGH], 0x55
        CHECKB byte [LOW], 0xAA, 5, "A20 on (i8042): 0x100500 distinct from 0x000500"
        mov al, 0xD1                     ; write output port: A20 off, reset line kept high
        call cmd
        mov al, bl
        and al, ~0x02
        or al, 0x01
        call write_data
        mov al, 0xD0
        call cmd
        call read_data
        and al, 0x02
        CHECKB al, 0x00, 6, "output port A20 bit after 0xD1"
        CHECKB byte [es:HIGH], 0xAA, 6, "A20 off (i8042): FFFF:0510 reads 0000:0500"
        PRINT {"A20 off through 0xD1: ok", 10}
        mov al, 0xD1
        call cmd
        mov al, bl
        or al, 0x03
        call write_data
        mov byte [es:HIGH], 0x77
        CHECKB byte [LOW], 0xAA, 7, "A20 on again (i8042): distinct"
        PRINT {"A20 on through 0xD1: ok", 10}
        ; Port 0x92 alone turns it on as well (OR).
        mov al, 0xDD
        call cmd
        in al, 0x92
        or al, 0x02
        and al, 0xFE
        out 0x92, al
        CHECKB byte [es:HIGH], 0x77, 8, "A20 from port 0x92 with the i8042's off"
        PRINT {"A20 = port 0x92 OR i8042: ok", 10}
        PASS

; Sends a controller command (AL) once the input buffer is empty.
cmd:    push ax
.w:     in al, 0x64
        test al, 0x02
        jnz .w
        pop ax
        out 0x64, al
        ret
write_data:
        push ax
.w:     in al, 0x64
        test al, 0x02
        jnz .w
        pop ax
        out 0x60, al
        ret
; AL = the next output-buffer byte (waits for OBF, bounded).
read_data:
        push cx
        mov cx, 0xFFFF
.w:     in al, 0x64
        test al, 0x01
        jnz .r
        loop .w
        pop cx
        FAIL 9, "no byte in the i8042 output buffer"
.r:     pop cx
        in al, 0x60
        ret

        ROM_END
