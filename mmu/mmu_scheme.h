// How guest linear addresses reach guest memory (-mmu).
#pragma once
#include <cstdint>

namespace vx86 {

// -mmu tlb: a TLB miss walks the guest's tables. -mmu shadow: it asks the shadow tables first.
// -mmu host: the shadow, and translated code's accesses go through host windows.
enum class MmuScheme : uint8_t { Tlb, Shadow, Host };

}  // namespace vx86
