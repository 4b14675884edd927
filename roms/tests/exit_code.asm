; exit_code: prints a line and exits through isa-debug-exit with code 5 (vx86 status 11).
; Used by tests/cli to check the (V << 1) | 1 exit status.
%include "rom_common.inc"
start:
        SETUP
        PRINT {"exit_code: exiting with code 5", 10}
        EXIT 5
        ROM_END
