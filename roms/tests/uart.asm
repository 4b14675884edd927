; uart: COM1 (16550A at 0x3F8, IRQ4). Transmits one line by polling LSR and one line driven by the
; THR-empty interrupt through the master PIC, then receives bytes through the UART's loopback mode
; (the host side, -serial file:PATH, gets the two lines; the checks go to the debug console).
%define TEST_NAME "uart"
%include "rom_common.inc"

COM1    equ 0x3F8
TXPOS   equ 0x0500                       ; word: next byte of the interrupt-driven line
TXDONE  equ 0x0502                       ; byte: the handler sent the whole line
IIRSEEN equ 0x0503                       ; byte: IIR as the handler first read it

%macro OUTB 2
        mov dx, %1
        mov al, %2
        out dx, al
%endmacro
%macro INB 1
        mov dx, %1
        in al, dx
%endmacro

start:
        SETUP
        mov word [0x24 * 4], irq4
        mov word [0x24 * 4 + 2], 0xF000
        mov word [TXPOS], 0
        mov byte [TXDONE], 0
        mov byte [IIRSEEN], 0
        ; PIC: bases 0x20/0x28, only IRQ4 unmasked.
        OUTB 0x20, 0x11
        OUTB 0x21, 0x20
        OUTB 0x21, 0x04
        OUTB 0x21, 0x01
        OUTB 0xA0, 0x11
        OUTB 0xA1, 0x28
        OUTB 0xA1, 0x02
        OUTB 0xA1, 0x01
        OUTB 0x21, 0xEF
        OUTB 0xA1, 0xFF

        ; 115200 8N1, FIFOs enabled and cleared, DTR RTS OUT2.
        OUTB COM1 + 3, 0x80
        OUTB COM1 + 0, 0x01
        OUTB COM1 + 1, 0x00
        OUTB COM1 + 3, 0x03
        INB COM1 + 0
        CHECKB al, 0x00, 2, "RBR empty after set-up"
        OUTB COM1 + 7, 0x5A
        INB COM1 + 7
        CHECKB al, 0x5A, 2, "scratch register"
        OUTB COM1 + 2, 0x07
        INB COM1 + 2
        and al, 0xC0
        CHECKB al, 0xC0, 2, "IIR FIFO bits (16550A)"
        OUTB COM1 + 4, 0x0B
        INB COM1 + 5
        and al, 0x60
        CHECKB al, 0x60, 2, "LSR THRE|TEMT at start"
        PRINT {"UART set-up, 16550A FIFOs: ok", 10}

        ; ---- polled transmit ----
        mov si, line1
.poll:  cs lodsb
        test al, al
        jz .polled
        mov ah, al
.thre:  INB COM1 + 5
        test al, 0x20
        jz .thre
        mov al, ah
        mov dx, COM1
        out dx, al
        jmp .poll
.polled:
        PRINT {"polled transmit: ok", 10}

        ; ---- interrupt-driven transmit: enabling ETBEI with THR empty raises IRQ4 at once ----
        OUTB COM1 + 1, 0x02
.wait:  cli                              ; check, then STI; HLT (no wake-up lost in between)
        cmp byte [TXDONE], 1
        je .sent
        sti
        hlt
        jmp .wait
.sent:
        CHECKB byte [IIRSEEN], 0xC2, 3, "IIR in the handler (THR empty, FIFOs on)"
        INB COM1 + 2
        and al, 0x0F
        CHECKB al, 0x01, 3, "IIR: no interrupt pending afterwards"
        PRINT {"THRE-interrupt transmit through IRQ4: ok", 10}

        ; ---- receive through loopback ----
        OUTB COM1 + 4, 0x1B              ; LOOP|OUT2|RTS|DTR
        INB COM1 + 6
        and al, 0xF0
        CHECKB al, 0xB0, 4, "MSR in loopback (DCD=OUT2, CTS=RTS, DSR=DTR)"
        mov si, probe
        mov di, 0x0600
.lsend: cs lodsb
        test al, al
        jz .lrecv
        mov dx, COM1
        out dx, al
        jmp .lsend
.lrecv: INB COM1 + 5
        test al, 0x01
        jz .ldone
        INB COM1
        mov [di], al
        inc di
        jmp .lrecv
.ldone: CHECKW di, 0x0600 + 3, 5, "bytes received in loopback"
        CHECKB byte [0x0600], 'v', 5, "loopback byte 0"
        CHECKB byte [0x0601], 'x', 5, "loopback byte 1"
        CHECKB byte [0x0602], '8', 5, "loopback byte 2"
        OUTB COM1 + 4, 0x0B
        PRINT {"receive through loopback: ok", 10}
        PASS

irq4:
        push ax
        push dx
        push si
        push ds
        xor ax, ax
        mov ds, ax
        INB COM1 + 2
        cmp byte [IIRSEEN], 0
        jne .seen
        mov [IIRSEEN], al
.seen:  mov si, [TXPOS]
        mov al, [cs:line2 + si]
        test al, al
        jz .done
        mov dx, COM1
        out dx, al
        inc word [TXPOS]
        jmp .eoi
.done:  OUTB COM1 + 1, 0x00              ; line sent: THRE interrupt off
        mov byte [TXDONE], 1
.eoi:   mov al, 0x20
        out 0x20, al
        pop ds
        pop si
        pop dx
        pop ax
        iret

line1:  db "uart: polled line on COM1", 13, 10, 0
line2:  db "uart: interrupt-driven line on COM1", 13, 10, 0
probe:  db "vx8", 0

        ROM_END
