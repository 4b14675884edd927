; mbr_boot: our own boot sector, booted by SeaBIOS from an IDE disk image (-hda). It reads the
; disk's second sector through INT 13h (the extended read, AH=42h, then the CHS read, AH=02h,
; into two buffers), prints the message stored there through INT 10h teletype output (AH=0Eh)
; and on the debug console, and ends through isa-debug-exit: code 0 = pass.
; The image is 64 KiB: this sector (with the 55AA signature), the message sector, padding.
        bits 16
        org 0x7C00
        cpu 686

start:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        sti
        mov [drive], dl                   ; the BIOS passes the boot drive (0x80)

        ; INT 13h AH=41h: extensions present?
        mov ah, 0x41
        mov bx, 0x55AA
        int 0x13
        jc fail_ext
        cmp bx, 0xAA55
        jne fail_ext
        ; AH=42h: read LBA 1 to 0000:0600.
        mov si, dap
        mov ah, 0x42
        mov dl, [drive]
        int 0x13
        jc fail_read
        ; AH=02h: read C/H/S 0/0/2 (the same sector) to 0000:0800.
        mov ax, 0x0201
        mov cx, 0x0002
        xor dh, dh
        mov dl, [drive]
        mov bx, 0x0800
        int 0x13
        jc fail_read
        ; Both reads must give the same bytes, starting with the magic.
        mov si, 0x0600
        mov di, 0x0800
        mov cx, 256
        repe cmpsw
        jne fail_compare
        cmp dword [0x0600], 'VX86'
        jne fail_compare

        ; Print the message (NUL-terminated, after the magic) with INT 10h and on port 0xe9.
        mov si, 0x0604
.print: lodsb
        test al, al
        jz .done
        out 0xE9, al
        mov ah, 0x0E
        mov bx, 0x0007
        int 0x10
        jmp .print
.done:  mov al, 0                         ; pass
        jmp exit

fail_ext:     mov al, 1
              jmp exit
fail_read:    mov al, 2
              jmp exit
fail_compare: mov al, 3
exit:   out 0xF4, al
        cli
.h:     hlt
        jmp .h

drive:  db 0
dap:    db 0x10, 0                        ; size, reserved
        dw 1                              ; sectors
        dw 0x0600, 0x0000                 ; buffer offset, segment
        dq 1                              ; LBA

        times 446 - ($ - $$) db 0
        ; one partition entry so firmware that looks for one is happy (type 0x01, LBA 1, 127 sectors)
        db 0x80, 0, 2, 0, 0x01, 0, 0, 0
        dd 1, 127
        times 510 - ($ - $$) db 0
        dw 0xAA55

; LBA 1: the message sector.
        db 'VX86'
        db 'MBR boot: INT 13h read, INT 10h print: ok', 13, 10, 0
        times 1024 - ($ - $$) db 0
        times 65536 - ($ - $$) db 0
