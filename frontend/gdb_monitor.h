// gdb's `monitor` commands (the qRcmd packet), as QEMU's monitor spells them: the CPU's whole
// state, the guest's page tables, and memory by physical or linear address. Reads only: nothing
// here changes the guest or its TLB, and device memory (MMIO) is never read (it can have side
// effects).
#pragma once
#include <string>

namespace vx86 {

class Machine;

// The text gdb prints for `monitor LINE` (an unknown command gets a line saying so and `help`).
std::string monitor_command(Machine& m, const std::string& line);

}  // namespace vx86
