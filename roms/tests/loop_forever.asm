; loop_forever: prints a line, then spins forever (no HLT), so only -timeout can stop it.
; Used by tests/cli to check that -timeout ends vx86 with status 124.
%include "rom_common.inc"
start:
        SETUP
        PRINT {"loop_forever: spinning", 10}
.spin:  inc ax
        jmp .spin
        ROM_END
