// CPUID: what vx86 tells the guest it is. One table, here, so a feature is reported exactly when
// it is implemented; docs/cpuid.md lists the leaves, and tests/unit/p6_test.cpp checks that every
// reported feature works.
#pragma once
#include <cstdint>

namespace vx86 {

struct CpuidResult {
  uint32_t eax, ebx, ecx, edx;
};

// Leaf 1 EDX feature bits.
enum : uint32_t {
  CPUID_FPU = 1u << 0,
  CPUID_PSE = 1u << 3,
  CPUID_TSC = 1u << 4,
  CPUID_MSR = 1u << 5,
  CPUID_PAE = 1u << 6,
  CPUID_CX8 = 1u << 8,
  CPUID_APIC = 1u << 9,  // added by the CPUID instruction while a local APIC is on (Cpu::has_apic)
  CPUID_SEP = 1u << 11,
  CPUID_PGE = 1u << 13,
  CPUID_CMOV = 1u << 15,
};
// Leaf 0x80000001 EDX.
enum : uint32_t { CPUID_EXT_NX = 1u << 20 };

constexpr uint32_t CPUID_SIGNATURE = 0x0633;  // family 6, model 3, stepping 3: a Pentium II
constexpr uint32_t CPUID_MAX_BASIC = 1;
constexpr uint32_t CPUID_MAX_EXTENDED = 0x80000001u;
constexpr uint32_t CPUID_FEATURES_EDX =
    CPUID_FPU | CPUID_PSE | CPUID_TSC | CPUID_MSR | CPUID_PAE | CPUID_CX8 | CPUID_SEP | CPUID_PGE | CPUID_CMOV;
constexpr uint32_t CPUID_EXT_FEATURES_EDX = CPUID_EXT_NX;

// The result of CPUID with EAX = leaf (no leaf vx86 reports uses ECX).
CpuidResult cpuid_leaf(uint32_t leaf);

}  // namespace vx86
