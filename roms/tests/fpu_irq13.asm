; fpu_irq13: the PC/AT's legacy x87 error path. With CR0.NE = 0 an unmasked x87 exception is
; reported at the next waiting FPU instruction through FERR#, which the board latches onto IRQ13
; (slave PIC line 5); the handler clears the latch with a write to port 0xF0 and the error with
; FNCLEX. Checks: exactly one IRQ13 per error, none while the latch is set, none when IRQ13 is
; masked until it is unmasked, and none with the exception masked.
%define TEST_NAME "fpu_irq13"
%include "rom_common.inc"
        cpu 686

COUNT    equ 0x0500                      ; IRQ13 count (word)
CWORD    equ 0x0502

start:
        SETUP
        ; 8259 pair: master at 0x08, slave at 0x70, as a PC BIOS sets them.
        PIC_INIT 0x08, 0x70, 0xFB, 0xDF        ; only the cascade and IRQ13 open
        mov word [0x75 * 4], irq13
        mov word [0x75 * 4 + 2], 0xF000
        mov word [COUNT], 0
        mov eax, cr0
        test al, 0x20
        jz .ne_clear
        FAIL 1, "CR0.NE is set after reset"
.ne_clear:
        sti

        ; 1: divide by zero with ZM unmasked; the FWAIT reports it through IRQ13.
        fninit
        mov word [CWORD], 0x037B          ; all masked but ZE
        fldcw [CWORD]
        fld1
        fldz
        fdivp st1, st0                    ; ZE pending (ES set), nothing delivered yet
        CHECKW word [COUNT], 0, 2, "IRQ13 before the next waiting instruction"
        fwait
        jmp .w1                           ; a block boundary, where interrupts are taken
.w1:    nop
        CHECKW word [COUNT], 1, 3, "IRQ13 after FWAIT"
        PRINT {"IRQ13 at the next waiting instruction: ok", 10}

        ; 2: a second error raises IRQ13 again (the handler cleared the latch and the error).
        fld1
        fldz
        fdivp st1, st0
        fwait
        jmp .w2
.w2:    nop
        CHECKW word [COUNT], 2, 4, "second IRQ13"
        PRINT {"again after port 0xF0 and FNCLEX: ok", 10}

        ; 3: IRQ13 masked at the PIC: the latch holds it until it is unmasked.
        mov al, 0xFF
        out 0xA1, al
        fld1
        fldz
        fdivp st1, st0
        fwait
        jmp .w3
.w3:    nop
        CHECKW word [COUNT], 2, 5, "IRQ13 while masked"
        mov al, 0xDF
        out 0xA1, al
        jmp .w4
.w4:    nop
        CHECKW word [COUNT], 3, 6, "IRQ13 once unmasked"
        PRINT {"held while masked, delivered once unmasked: ok", 10}

        ; 4: the same division with ZE masked: a default result (infinity), no IRQ13.
        fninit
        fld1
        fldz
        fdivp st1, st0
        fwait
        jmp .w5
.w5:    nop
        CHECKW word [COUNT], 3, 7, "IRQ13 for a masked exception"
        fstsw ax
        test al, 0x04
        jnz .ze_flag
        FAIL 8, "ZE flag not set for the masked division"
.ze_flag:
        PRINT {"masked exception: no IRQ13: ok", 10}
        PASS

irq13:
        push ax
        inc word [COUNT]
        out 0xF0, al                      ; clear the FERR# latch (IRQ13 goes low)
        fnclex
        mov al, 0x20
        out 0xA0, al
        out 0x20, al
        pop ax
        iret

        ROM_END
