# cmake -DIN=file.bin -DOUT=file.inc -P bin2array.cmake: the file's bytes as a C initializer list
# ("0x55,0xaa,..."), for a ROM built at build time and embedded in vx86 (roms/linuxboot.asm).
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "${bytes}\n")
