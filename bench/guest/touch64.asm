; touch64: maps 64 MiB of fresh anonymous memory, writes one byte in each 4 KiB page, unmaps it;
; twice (the guest benchmark's "fault64" row: 32768 page faults, each a page walk, a zeroed page
; and a PTE write). i386 Linux, raw int 0x80 system calls. Exit status 0, or 1 if a call failed.
SIZE equ 64 << 20

section .text
global _start
_start:
  mov edi, 2
.pass:
  mov eax, 192                ; mmap2(NULL, SIZE, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
  xor ebx, ebx
  mov ecx, SIZE
  mov edx, 3
  mov esi, 0x22
  push edi
  mov edi, -1
  push ebp
  xor ebp, ebp
  int 0x80
  pop ebp
  pop edi
  cmp eax, -4096
  ja fail
  mov ebx, eax
  mov ecx, SIZE / 4096
.touch:
  mov byte [eax], 1
  add eax, 4096
  dec ecx
  jnz .touch
  mov eax, 91                 ; munmap(addr, SIZE)
  mov ecx, SIZE
  int 0x80
  test eax, eax
  jnz fail
  dec edi
  jnz .pass
  xor ebx, ebx
  jmp exit
fail:
  mov ebx, 1
exit:
  mov eax, 1
  int 0x80
