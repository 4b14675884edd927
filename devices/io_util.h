// Small helpers shared by the ISA devices.
#pragma once
#include <cstdint>
#include <functional>

namespace vx86 {

// An interrupt request output. The board connects it (e.g. to Pic8259::set_irq); unconnected it
// does nothing. Devices call set() with the line's level; edges are the receiver's business.
using IrqOutput = std::function<void(bool level)>;

// Bytes of a wide I/O access beyond the first on an 8-bit device: open bus (all ones), as the ISA
// bus returns for byte lanes no device drives.
inline uint32_t open_bus_upper(unsigned size) {
  return size == 1 ? 0u : size == 2 ? 0xFF00u : 0xFFFFFF00u;
}

}  // namespace vx86
