; linuxboot: vx86's option ROM for -kernel through the firmware (-kernel-loader bios). vx86 hands
; it to SeaBIOS as the fw_cfg file "genroms/linuxboot.bin"; SeaBIOS runs its init at POST, which
; points INT 19h (the boot) here. The boot then copies the parts of the kernel vx86 laid out in
; fw_cfg (items 07h-18h, QEMU's numbers) to where they go, with fw_cfg's DMA interface: the
; real-mode setup, the protected-mode kernel, the initrd and the command line; and enters the setup
; code as the Linux boot protocol asks (Documentation/arch/x86/boot.rst, "Running the kernel"):
; DS = ES = FS = GS = SS = the setup's segment, SP below the command line, CS = segment + 20h, IP 0,
; interrupts off. vx86 fixes the checksum byte (the last) when it adds the file.
        bits 16
        org 0

FW_SELECTOR   equ 0x510
FW_DATA       equ 0x511
FW_DMA        equ 0x514                 ; high dword of the descriptor address, then low (starts it)
DMA_SELECT    equ 0x08
DMA_READ      equ 0x02
DESCRIPTOR    equ 0x7000                ; 16 bytes of conventional memory (segment 0)
BIOSLOG       equ 0x402                 ; SeaBIOS's debug port: vx86's -bioslog

KERNEL_ADDR   equ 0x07
KERNEL_SIZE   equ 0x08
INITRD_ADDR   equ 0x0A
INITRD_SIZE   equ 0x0B
KERNEL_DATA   equ 0x11
INITRD_DATA   equ 0x12
CMDLINE_ADDR  equ 0x13
CMDLINE_SIZE  equ 0x14
CMDLINE_DATA  equ 0x15
SETUP_ADDR    equ 0x16
SETUP_SIZE    equ 0x17
SETUP_DATA    equ 0x18

        db 0x55, 0xAA
        db 1                            ; 512 bytes
        jmp init                        ; offset 3: the BIOS far-calls it during POST

init:   push ds
        xor ax, ax
        mov ds, ax
        mov word [0x19 * 4], boot
        mov [0x19 * 4 + 2], cs
        pop ds
        retf

; EAX = the first dword of item AX (little-endian), through the traditional interface.
read32: mov dx, FW_SELECTOR
        out dx, ax
        mov dx, FW_DATA
        in eax, dx
        ret

; Reads item AX's ECX bytes to physical address EBX with one DMA descriptor; CF on an error.
dma_read:
        movzx eax, ax
        shl eax, 16
        or eax, DMA_SELECT | DMA_READ
        bswap eax
        mov [es:DESCRIPTOR], eax
        mov eax, ecx
        bswap eax
        mov [es:DESCRIPTOR + 4], eax
        mov dword [es:DESCRIPTOR + 8], 0
        mov eax, ebx
        bswap eax
        mov [es:DESCRIPTOR + 12], eax
        xor eax, eax
        mov dx, FW_DMA
        out dx, eax
        mov eax, DESCRIPTOR
        bswap eax
        mov dx, FW_DMA + 4
        out dx, eax                     ; done when the OUT returns (control now 0, or 1: error)
        cmp dword [es:DESCRIPTOR], 0
        je .ok
        stc
        ret
.ok:    clc
        ret

boot:   cli
        cld
        xor ax, ax
        mov es, ax
        mov ax, SETUP_ADDR
        call read32
        mov esi, eax                    ; the setup's address (kept in ESI)
        mov ax, SETUP_SIZE
        call read32
        mov ecx, eax
        mov ebx, esi
        mov ax, SETUP_DATA
        call dma_read
        jc fail
        mov ax, KERNEL_ADDR
        call read32
        push eax
        mov ax, KERNEL_SIZE
        call read32
        mov ecx, eax
        pop ebx
        mov ax, KERNEL_DATA
        call dma_read
        jc fail
        mov ax, INITRD_SIZE
        call read32
        mov ecx, eax
        jecxz .no_initrd
        mov ax, INITRD_ADDR
        call read32
        mov ebx, eax
        mov ax, INITRD_DATA
        call dma_read
        jc fail
.no_initrd:
        mov ax, CMDLINE_ADDR
        call read32
        mov edi, eax                    ; the command line's address (kept in EDI)
        mov ax, CMDLINE_SIZE
        call read32
        mov ecx, eax
        jecxz .enter
        mov ebx, edi
        mov ax, CMDLINE_DATA
        call dma_read
        jc fail
.enter:
        mov eax, esi
        shr eax, 4
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, edi
        sub esp, esi
        sub esp, 16                     ; the stack ends below the command line
        add ax, 0x20
        push ax
        push word 0
        retf

fail:   mov si, message
        mov dx, BIOSLOG
.out:   mov al, [cs:si]
        test al, al
        jz .stop
        out dx, al
        inc si
        jmp .out
.stop:  int 0x18                        ; boot failure: the BIOS's next step
        hlt
        jmp .stop

message: db "linuxboot: fw_cfg DMA transfer failed", 10, 0

        times 511 - ($ - $$) db 0
        db 0                            ; checksum (vx86 sets it)
