# Debian's SeaBIOS on the board: its banner on the log port and the RAM size it reads from the CMOS
# memory-size bytes (no fw_cfg, no PCI yet). Skipped when the seabios package is not installed.
#   VX86, SEABIOS (path of bios.bin), OUT (dir), MB (-m value), EXPECT (regex on the log)
cmake_minimum_required(VERSION 3.25)
if(NOT EXISTS "${SEABIOS}")
  message("SKIP: ${SEABIOS} is missing (install Debian's seabios package: scripts/setup.sh)")
  return()
endif()
set(log "${OUT}/seabios_${MB}.log")
file(REMOVE "${log}")
execute_process(COMMAND "${VX86}" -bios "${SEABIOS}" -m ${MB} -nographic -serial null -bioslog "file:${log}" -timeout 5
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
file(READ "${log}" content)
message("--- exit status: ${status}\n--- stderr:\n${err}--- ${log}:\n${content}---")
foreach(re "SeaBIOS \\(version [^)]+\\)" "${EXPECT}")
  if(NOT content MATCHES "${re}")
    message(FATAL_ERROR "the SeaBIOS log does not match '${re}'")
  endif()
endforeach()
