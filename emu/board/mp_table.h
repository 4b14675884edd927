// The MultiProcessor Specification 1.4 tables, for a guest booted without firmware and without ACPI
// (-kernel with -apic on and -acpi off): the floating pointer and the configuration table with
// every processor (APIC ID = index, CPU 0 the BSP), the ISA bus, the I/O APIC, ISA IRQ n on I/O
// APIC pin n (IRQ 2 is the cascade: none), the 8259 as ExtINT on LINT0 and NMI on LINT1 of every
// local APIC. SeaBIOS writes its own for firmware boots.
#pragma once
#include <cstdint>
#include <vector>

namespace vx86 {

// The floating pointer (16 bytes) followed by the configuration table, as placed at guest address
// `at` (the pointer names the table at at + 16).
std::vector<uint8_t> build_mp_table(unsigned cpus, uint32_t at);

}  // namespace vx86
