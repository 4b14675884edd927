; pm_triple_fault: a protected-mode triple fault shuts the CPU down. With an IDT limit of 0, #UD
; cannot be delivered (#GP), #GP cannot (#DF), #DF cannot: shutdown. Run with -no-reboot, vx86 then
; exits (status 0, as QEMU) and says so on stderr; this ROM never reports a pass itself.
%define TEST_NAME "pm_triple_fault"
%include "rom_common.inc"
%include "tests/pm_common.inc"

start:
        PM_ENTER

        bits 32
pm_main:
        PRINT32 {"pm_triple_fault: faulting with an empty IDT", 10}
        lidt [cs:empty_idt]
        ud2
        FAIL32 2, "UD2 with an empty IDT returned"
empty_idt:
        dw 0
        dd 0

        bits 16
        PM_SUPPORT
        ROM_END
