; vga_text: writes "VX86 VGA OK" (white on blue) to the colour text screen at B800:0000 and reads
; it back; moves the cursor to the end of the text through the CRTC. The CLI test checks the
; text screen vx86 dumps with -vga-dump.
%define TEST_NAME "vga_text"
%include "rom_common.inc"

start:
        SETUP
        ; Colour addressing (misc bit 0), so the CRTC answers at 0x3D4.
        mov dx, 0x3CC
        in al, dx
        or al, 1
        mov dx, 0x3C2
        out dx, al
        mov ax, 0xB800
        mov es, ax
        xor di, di
        mov si, msg
        mov ah, 0x1F
.copy:  cs lodsb
        test al, al
        jz .done
        stosw
        jmp .copy
.done:
        CHECKW word [es:0], 0x1F56, 1, "char and attribute read back from B800:0000"
        CHECKW word [es:20], 0x1F4B, 2, "last character read back"
        ; Cursor after the text (CRTC 0x0E/0x0F = 11).
        mov dx, 0x3D4
        mov ax, 0x000E
        out dx, ax
        mov ax, 0x0B0F
        out dx, ax
        PRINT {"vga_text: text written to B800:0000: ok", 10}
        PASS
msg:    db "VX86 VGA OK", 0
        ROM_END
