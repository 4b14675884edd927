# Boots guest/vmlinuz + guest/initramfs.cpio.gz in vx86 with the serial console in a file and checks
# what the guest printed. Inputs: VX86, GUEST_DIR, OUT (a path prefix for the logs).
foreach(f vmlinuz initramfs.cpio.gz expected.txt)
  if(NOT EXISTS ${GUEST_DIR}/${f})
    message("SKIP: ${GUEST_DIR}/${f} is missing: run scripts/build-guest.sh")
    cmake_language(EXIT 77)
  endif()
endforeach()
set(serial ${OUT}-serial.txt)
file(REMOVE ${serial})
execute_process(
  COMMAND ${VX86} -kernel ${GUEST_DIR}/vmlinuz -initrd ${GUEST_DIR}/initramfs.cpio.gz
          -append "console=ttyS0" -m 256 -serial file:${serial} -no-reboot -timeout 300
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT EXISTS ${serial})
  message(FATAL_ERROR "no serial output (vx86 status ${status}): ${err}")
endif()
file(READ ${serial} console)
file(STRINGS ${GUEST_DIR}/expected.txt expected REGEX "^VX86-SHA256 ")
foreach(want "VX86-GUEST-UP" "${expected}" "VX86-GUEST-DONE")
  string(FIND "${console}" "${want}" at)
  if(at EQUAL -1)
    string(LENGTH "${console}" n)
    math(EXPR from "${n} - 3000")
    if(from LESS 0)
      set(from 0)
    endif()
    string(SUBSTRING "${console}" ${from} -1 tail)
    message(FATAL_ERROR "the guest did not print '${want}' (vx86 status ${status}, stderr: ${err})\n"
                        "--- last serial output ---\n${tail}")
  endif()
endforeach()
message("guest printed the marker, the host's sha256 and powered off (vx86 status ${status})")
