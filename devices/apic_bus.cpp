#include "devices/apic_bus.h"

#include "devices/local_apic.h"

namespace vx86 {

bool ApicBus::matches(const LocalApic& a, uint8_t dest, bool logical) {
  if (!logical) return dest == 0xFF || dest == a.apic_id();
  const uint8_t ldr = a.logical_id();
  if (a.flat_model()) return (dest & ldr) != 0;
  // Cluster model: the high nibbles name the cluster (Fh: all), the low ones a mask within it.
  const bool cluster = (dest >> 4) == 0xF || (dest >> 4) == (ldr >> 4);
  return cluster && (dest & ldr & 0x0F) != 0;
}

void ApicBus::send_ipi(LocalApic* from, uint32_t lo, uint32_t hi) {
  const unsigned mode = (lo >> 8) & 7;
  const bool level_trigger = (lo >> 15) & 1, assert = (lo >> 14) & 1;
  if (mode == INIT && level_trigger && !assert) return;  // INIT level de-assert
  deliver(from, (lo >> 18) & 3, static_cast<uint8_t>(hi >> 24), (lo >> 11) & 1, mode,
          static_cast<uint8_t>(lo & 0xFF), false);
}

void ApicBus::deliver(LocalApic* from, unsigned shorthand, uint8_t dest, bool logical, unsigned mode,
                      uint8_t vector, bool level) {
  std::vector<LocalApic*> targets;
  for (LocalApic* a : apics_) {
    if (!a->enabled()) continue;  // hardware-disabled (IA32_APIC_BASE): off the bus
    bool hit = false;
    switch (shorthand) {
      case SELF:
        hit = a == from;
        break;
      case ALL:
        hit = true;
        break;
      case OTHERS:
        hit = a != from;
        break;
      default:
        hit = matches(*a, dest, logical);
        break;
    }
    if (hit) targets.push_back(a);
  }
  if (mode == LOWEST && targets.size() > 1) {
    LocalApic* best = targets.front();
    for (LocalApic* a : targets)
      if (a->task_priority() < best->task_priority()) best = a;
    targets.assign(1, best);
  }
  bool remote = false;
  for (LocalApic* a : targets) {
    switch (mode) {
      case FIXED:
      case LOWEST:
        a->accept(vector, level);
        break;
      case NMI:
        a->receive_nmi();
        break;
      case INIT:
        a->receive_init();
        break;
      case STARTUP:
        a->receive_startup(vector);
        break;
      default:
        continue;  // SMI, reserved
    }
    remote |= a != from;
  }
  if (remote && on_remote) on_remote();
}

}  // namespace vx86
