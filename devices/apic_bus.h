// The APIC bus: interrupt messages between the local APICs (IPIs from the ICR) and from the I/O
// APIC, delivered to the APICs their destination names: a physical APIC ID (FFh: all), a logical
// destination (flat model: a bit mask of logical IDs; cluster model: a cluster number and a mask),
// or an ICR shorthand (self, all including self, all excluding self). Delivery modes: fixed, lowest
// priority (to the target with the lowest TPR; ties go to the lowest CPU index, so deterministic
// runs repeat), NMI, INIT (the INIT level de-assert message only synchronises arbitration IDs
// and does nothing here), STARTUP; SMI and reserved modes are dropped (no SMM on this board).
// Messages are delivered at once: the ICR's delivery status never reads "send pending".
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace vx86 {

class LocalApic;

class ApicBus {
 public:
  enum Mode : unsigned { FIXED = 0, LOWEST = 1, SMI = 2, NMI = 4, INIT = 5, STARTUP = 6 };
  enum Shorthand : unsigned { NONE = 0, SELF = 1, ALL = 2, OTHERS = 3 };

  void add(LocalApic* apic) { apics_.push_back(apic); }
  size_t size() const { return apics_.size(); }
  LocalApic* apic(size_t i) const { return apics_[i]; }

  // An IPI from `from`'s ICR (low and high dwords as written).
  void send_ipi(LocalApic* from, uint32_t icr_lo, uint32_t icr_hi);
  // A message to `dest` (physical or logical), or by `shorthand` relative to `from` (null: the
  // I/O APIC). `level`: a level-triggered fixed interrupt (the EOI goes back to the I/O APIC).
  void deliver(LocalApic* from, unsigned shorthand, uint8_t dest, bool logical, unsigned mode, uint8_t vector,
               bool level);
  // Whether `apic` is named by `dest`.
  static bool matches(const LocalApic& apic, uint8_t dest, bool logical);

  // A message reached a CPU other than the sender's (the board ends the running slice, so the
  // target runs soon).
  std::function<void()> on_remote;

 private:
  std::vector<LocalApic*> apics_;
};

}  // namespace vx86
