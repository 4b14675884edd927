; port_io: IN/OUT of bytes, words and dwords (immediate port and DX), INS/OUTS with REP and with
; DF set, and the open-bus value of unclaimed ports.
; Port 0xe9 (debugcon) is an 8-bit device that reads back 0xe9; the byte lanes above it are open
; bus, so a word read gives 0xFFE9 and a dword read 0xFFFFFFE9, as on QEMU. Writes print their low
; byte. Port 0x7F00 is claimed by nothing: it reads as all ones.
%define TEST_NAME "port_io"
%include "rom_common.inc"

UNCLAIMED equ 0x7F00
BUF       equ 0x0600

start:
        SETUP

        ; ---- OUT: byte, word, dword; immediate port and DX. Prints "[ABCDEF]". ----
        mov al, '['
        out DEBUGCON, al
        mov al, 'A'
        out DEBUGCON, al
        mov ax, 0x5A00 | 'B'             ; high byte goes to port 0xea (nobody): not printed
        out DEBUGCON, ax
        mov eax, 0x5A5A5A00 | 'C'
        out DEBUGCON, eax
        mov dx, DEBUGCON
        mov al, 'D'
        out dx, al
        mov ax, 0x5A00 | 'E'
        out dx, ax
        mov eax, 0x5A5A5A00 | 'F'
        out dx, eax
        mov al, ']'
        out dx, al
        PRINT {10, "OUT byte/word/dword, imm8 and DX: printed above", 10}

        ; ---- IN from 0xe9: reads back 0xe9 on its byte lane ----
        in al, DEBUGCON
        CHECKB al, 0xE9, 2, "IN AL, 0xe9"
        mov eax, 0x12345678
        in ax, DEBUGCON
        CHECKD eax, 0x1234FFE9, 3, "IN AX, 0xe9 (upper half of EAX kept)"
        in eax, DEBUGCON
        CHECKD eax, 0xFFFFFFE9, 4, "IN EAX, 0xe9"
        mov dx, DEBUGCON
        xor eax, eax
        in al, dx
        CHECKD eax, 0x000000E9, 5, "IN AL, DX=0xe9"
        in ax, dx
        CHECKW ax, 0xFFE9, 5, "IN AX, DX=0xe9"
        in eax, dx
        CHECKD eax, 0xFFFFFFE9, 5, "IN EAX, DX=0xe9"
        PRINT {"IN byte/word/dword from 0xe9: ok", 10}

        ; ---- unclaimed port: all ones, writes ignored ----
        mov dx, UNCLAIMED
        mov al, 0x12
        out dx, al
        mov ax, 0x1234
        out dx, ax
        mov eax, 0x12345678
        out dx, eax
        xor eax, eax
        in al, dx
        CHECKD eax, 0x000000FF, 6, "IN AL from an unclaimed port"
        xor eax, eax
        in ax, dx
        CHECKD eax, 0x0000FFFF, 7, "IN AX from an unclaimed port"
        xor eax, eax
        in eax, dx
        CHECKD eax, 0xFFFFFFFF, 8, "IN EAX from an unclaimed port"
        in al, 0xF0 - 0x10               ; port 0xe0: unclaimed, immediate form
        CHECKB al, 0xFF, 8, "IN AL, 0xe0"
        PRINT {"unclaimed port reads all ones: ok", 10}

        ; ---- REP OUTSB / OUTSW / OUTSD to 0xe9 ----
        push ds
        push cs
        pop ds
        mov dx, DEBUGCON
        mov si, outs_bytes
        mov cx, outs_bytes_end - outs_bytes
        rep outsb
        CHECKW cx, 0, 9, "CX after REP OUTSB"
        CHECKW si, outs_bytes_end, 9, "SI after REP OUTSB"
        mov si, outs_words
        mov cx, (outs_words_end - outs_words) / 2
        rep outsw
        CHECKW si, outs_words_end, 10, "SI after REP OUTSW"
        mov si, outs_dwords
        mov cx, (outs_dwords_end - outs_dwords) / 4
        rep outsd
        CHECKW si, outs_dwords_end, 11, "SI after REP OUTSD"
        ; DF = 1: backwards
        std
        mov si, outs_back_end - 1
        mov cx, outs_back_end - outs_back
        rep outsb
        cld
        CHECKW si, outs_back - 1, 12, "SI after REP OUTSB with DF=1"
        pop ds
        PRINT {10, "REP OUTSB/OUTSW/OUTSD (and DF=1): printed above", 10}

        ; ---- REP INSB / INSW / INSD from 0xe9 ----
        mov di, BUF
        mov cx, 16
        mov al, 0
        rep stosb                        ; clear the buffer
        mov dx, DEBUGCON
        mov di, BUF
        mov cx, 3
        rep insb
        CHECKW di, BUF + 3, 13, "DI after REP INSB"
        CHECKB byte [BUF + 0], 0xE9, 13, "REP INSB byte 0"
        CHECKB byte [BUF + 2], 0xE9, 13, "REP INSB byte 2"
        CHECKB byte [BUF + 3], 0x00, 13, "REP INSB wrote past CX"
        mov di, BUF + 4
        mov cx, 2
        rep insw
        CHECKW word [BUF + 4], 0xFFE9, 14, "REP INSW word 0"
        CHECKW word [BUF + 6], 0xFFE9, 14, "REP INSW word 1"
        CHECKW di, BUF + 8, 14, "DI after REP INSW"
        mov di, BUF + 8
        mov cx, 1
        rep insd
        CHECKD dword [BUF + 8], 0xFFFFFFE9, 15, "REP INSD"
        mov dx, UNCLAIMED
        std
        mov di, BUF + 13
        mov cx, 2
        rep insb                         ; DF = 1: BUF+13, BUF+12
        cld
        CHECKW di, BUF + 11, 16, "DI after REP INSB with DF=1"
        CHECKW word [BUF + 12], 0xFFFF, 16, "REP INSB with DF=1 from an unclaimed port"
        CHECKB byte [BUF + 14], 0x00, 16, "REP INSB with DF=1 wrote past CX"
        xor cx, cx
        mov di, BUF + 14
        rep insb                         ; CX = 0: nothing
        CHECKW di, BUF + 14, 17, "REP INSB with CX=0 moved DI"
        CHECKB byte [BUF + 14], 0x00, 17, "REP INSB with CX=0 wrote"
        ; A single INSB without REP, with a segment (ES) other than DS.
        mov ax, 0x0040
        mov es, ax
        mov di, BUF - 0x400 + 15         ; 0040:(BUF-0x400+15) = 0000:BUF+15
        mov dx, DEBUGCON
        insb
        xor ax, ax
        mov es, ax
        CHECKB byte [BUF + 15], 0xE9, 18, "INSB into ES:DI with ES=0x40"
        PRINT {"REP INSB/INSW/INSD (and DF=1, CX=0, ES): ok", 10}

        PASS

outs_bytes:   db "<outsb>"
outs_bytes_end:
outs_words:   dw 0x5A00 | '<', 0x5A00 | 'o', 0x5A00 | 'u', 0x5A00 | 't', 0x5A00 | 's'
              dw 0x5A00 | 'w', 0x5A00 | '>'
outs_words_end:
outs_dwords:  dd 0x5A5A5A00 | '<', 0x5A5A5A00 | 'd', 0x5A5A5A00 | '>'
outs_dwords_end:
outs_back:    db ">kcab<"                ; printed backwards: <back>
outs_back_end:

        ROM_END
