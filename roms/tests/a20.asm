%include "rom_common.inc"
start:
        EXIT 0
        ROM_END
