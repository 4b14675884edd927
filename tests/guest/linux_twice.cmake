# Deterministic mode on a whole guest: boots guest/vmlinuz + initramfs with -icount twice with the
# JIT and once with the interpreter (-jit off), and requires the three serial logs (kernel
# timestamps included) to be identical byte for byte, and the guest to have reached its last line:
# the tiers agree on instruction counts and interrupt delivery points.
# Inputs: VX86, GUEST_DIR, OUT (a path prefix for the logs), EXTRA (more vx86 arguments, @@-separated),
# REQUIRE (strings the first console must show, @@-separated).
foreach(f vmlinuz initramfs.cpio.gz)
  if(NOT EXISTS ${GUEST_DIR}/${f})
    message("SKIP: ${GUEST_DIR}/${f} is missing: run scripts/build-guest.sh")
    cmake_language(EXIT 77)
  endif()
endforeach()
string(REPLACE "@@" ";" extra "${EXTRA}")
string(REPLACE "@@" ";" require "${REQUIRE}")
set(jit_1 on)
set(jit_2 on)
set(jit_3 off)
foreach(run 1 2 3)
  set(serial ${OUT}-serial${run}.txt)
  file(REMOVE ${serial})
  execute_process(
    COMMAND ${VX86} -kernel ${GUEST_DIR}/vmlinuz -initrd ${GUEST_DIR}/initramfs.cpio.gz
            -append "console=ttyS0" -m 256 -icount shift=0 -jit ${jit_${run}} ${extra} -serial file:${serial} -no-reboot -timeout 300
    RESULT_VARIABLE status ERROR_VARIABLE err)
  if(NOT EXISTS ${serial})
    message(FATAL_ERROR "run ${run}: no serial output (vx86 status ${status}): ${err}")
  endif()
  file(READ ${serial} console${run})
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "run ${run}: vx86 exited with status ${status} (want 0: ACPI power-off): ${err}")
  endif()
endforeach()
foreach(want "VX86-GUEST-DONE" ${require})
  string(FIND "${console1}" "${want}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the guest did not print '${want}' in deterministic mode")
  endif()
endforeach()
if(NOT console1 STREQUAL console2)
  message(FATAL_ERROR "two deterministic JIT runs printed different serial output: compare ${OUT}-serial1.txt and ${OUT}-serial2.txt")
endif()
if(NOT console1 STREQUAL console3)
  message(FATAL_ERROR "the JIT and the interpreter printed different serial output: compare ${OUT}-serial1.txt and ${OUT}-serial3.txt (scripts/trace-diff.py names the first differing block)")
endif()
string(LENGTH "${console1}" n)
message("three deterministic boots (JIT, JIT, interpreter) printed the same ${n} bytes")
