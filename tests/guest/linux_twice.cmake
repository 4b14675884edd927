# Deterministic mode on a whole guest: boots guest/vmlinuz + initramfs twice with -icount and
# requires the two serial logs (kernel timestamps included) to be identical byte for byte, and the
# guest to have reached its last line. Inputs: VX86, GUEST_DIR, OUT (a path prefix for the logs).
foreach(f vmlinuz initramfs.cpio.gz)
  if(NOT EXISTS ${GUEST_DIR}/${f})
    message("SKIP: ${GUEST_DIR}/${f} is missing: run scripts/build-guest.sh")
    cmake_language(EXIT 77)
  endif()
endforeach()
foreach(run 1 2)
  set(serial ${OUT}-serial${run}.txt)
  file(REMOVE ${serial})
  execute_process(
    COMMAND ${VX86} -kernel ${GUEST_DIR}/vmlinuz -initrd ${GUEST_DIR}/initramfs.cpio.gz
            -append "console=ttyS0" -m 256 -icount shift=0 -serial file:${serial} -no-reboot -timeout 300
    RESULT_VARIABLE status ERROR_VARIABLE err)
  if(NOT EXISTS ${serial})
    message(FATAL_ERROR "run ${run}: no serial output (vx86 status ${status}): ${err}")
  endif()
  file(READ ${serial} console${run})
endforeach()
string(FIND "${console1}" "VX86-GUEST-DONE" at)
if(at EQUAL -1)
  message(FATAL_ERROR "the guest did not reach VX86-GUEST-DONE in deterministic mode")
endif()
if(NOT console1 STREQUAL console2)
  message(FATAL_ERROR "two deterministic runs printed different serial output: compare ${OUT}-serial1.txt and ${OUT}-serial2.txt")
endif()
string(LENGTH "${console1}" n)
message("two deterministic boots printed the same ${n} bytes")
