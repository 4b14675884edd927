#include "emu/cpuid.h"

namespace vx86 {

CpuidResult cpuid_leaf(uint32_t leaf) {
  // Intel: a leaf above the highest basic or extended leaf returns the highest basic leaf's data.
  if (leaf >= 0x80000000u ? leaf > CPUID_MAX_EXTENDED : leaf > CPUID_MAX_BASIC) leaf = CPUID_MAX_BASIC;
  switch (leaf) {
    case 0: return {CPUID_MAX_BASIC, 0x756E6547u /* Genu */, 0x6C65746Eu /* ntel */, 0x49656E69u /* ineI */};
    case 1: return {CPUID_SIGNATURE, 0, 0, CPUID_FEATURES_EDX};
    case 0x80000000u: return {CPUID_MAX_EXTENDED, 0, 0, 0};
    default: return {0, 0, 0, CPUID_EXT_FEATURES_EDX};  // 0x80000001
  }
}

}  // namespace vx86
