; pipe_pingpong: two processes pass one byte back and forth through two pipes, ROUNDS times
; (the guest benchmark's "pipe" row: every round trip is two context switches, so two CR3 loads).
; i386 Linux, raw int 0x80 system calls, no libc. Exit status 0, or 1 if a call failed.
ROUNDS equ 100000

section .bss
to_child:   resd 2
to_parent:  resd 2
byte_buf:   resb 4

section .text
global _start
_start:
  mov eax, 42                 ; pipe(to_child)
  mov ebx, to_child
  int 0x80
  test eax, eax
  jnz fail
  mov eax, 42                 ; pipe(to_parent)
  mov ebx, to_parent
  int 0x80
  test eax, eax
  jnz fail
  mov eax, 2                  ; fork
  int 0x80
  test eax, eax
  js fail
  jz child

  mov esi, ROUNDS             ; parent: write, then wait for the answer
.parent_loop:
  mov eax, 4
  mov ebx, [to_child + 4]
  mov ecx, byte_buf
  mov edx, 1
  int 0x80
  cmp eax, 1
  jne fail
  mov eax, 3
  mov ebx, [to_parent]
  mov ecx, byte_buf
  mov edx, 1
  int 0x80
  cmp eax, 1
  jne fail
  dec esi
  jnz .parent_loop
  mov eax, 7                  ; waitpid(-1, NULL, 0)
  mov ebx, -1
  xor ecx, ecx
  xor edx, edx
  int 0x80
  xor ebx, ebx
  jmp exit

child:
  mov esi, ROUNDS
.child_loop:
  mov eax, 3
  mov ebx, [to_child]
  mov ecx, byte_buf
  mov edx, 1
  int 0x80
  cmp eax, 1
  jne fail
  mov eax, 4
  mov ebx, [to_parent + 4]
  mov ecx, byte_buf
  mov edx, 1
  int 0x80
  cmp eax, 1
  jne fail
  dec esi
  jnz .child_loop
  xor ebx, ebx
  jmp exit

fail:
  mov ebx, 1
exit:
  mov eax, 1
  int 0x80
