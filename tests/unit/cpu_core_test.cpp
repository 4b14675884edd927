// The run loop's mechanics: self-modifying code, block invalidation, precise exceptions through
// the IVT, triple faults, single-stepping and the 16-bit IP wrap.
#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>

#include "devices/port_bus.h"
#include "emu/cpu.h"

using namespace vx86;

namespace {

class RealModeCpu : public ::testing::Test {
 protected:
  RealModeCpu() : mem(1 << 20), cpu(mem, io) {}

  // Places code at CS:IP = seg:off and points the CPU there, with a stack at 0000:8000.
  void load(uint16_t seg, uint16_t off, std::initializer_list<uint8_t> code) {
    std::memcpy(mem.ram() + (uint32_t{seg} << 4) + off, code.begin(), code.size());
    start(seg, off);
  }
  void start(uint16_t seg, uint16_t off) {
    cpu.load_seg_real(CS, seg);
    cpu.s.eip = off;
    cpu.load_seg_real(SS, 0);
    cpu.s.regs[ESP] = 0x8000;
    cpu.s.halted = false;  // a test restarts the CPU where an interrupt would have
  }
  void set_ivt(uint8_t vec, uint16_t seg, uint16_t off) {
    mem.write(vec * 4u, off, 2);
    mem.write(vec * 4u + 2, seg, 2);
  }
  StopReason run() { return cpu.run(100000); }

  PhysicalMemory mem;
  PortBus io;
  Cpu cpu;
};

TEST_F(RealModeCpu, CodePatchingTheNextInstructionSeesTheNewBytes) {
  // 1000: mov byte [cs:0x1006], 0x42   (2E C6 06 06 10 42)
  // 1006: mov al, 0x00                 (B0 00) -- its immediate was just patched to 0x42
  // 1008: hlt
  load(0, 0x1000, {0x2E, 0xC6, 0x06, 0x07, 0x10, 0x42, 0xB0, 0x00, 0xF4});
  ASSERT_EQ(run(), StopReason::Halted);
  EXPECT_EQ(cpu.s.regs[EAX] & 0xFF, 0x42u);
}

TEST_F(RealModeCpu, RerunningPatchedCodeUsesTheNewVersion) {
  // 2000: mov al, 1 ; hlt
  load(0, 0x2000, {0xB0, 0x01, 0xF4});
  ASSERT_EQ(run(), StopReason::Halted);
  EXPECT_EQ(cpu.s.regs[EAX] & 0xFF, 1u);
  // Guest code elsewhere rewrites the immediate: 3000: mov byte [0x2001], 7 ; hlt
  load(0, 0x3000, {0xC6, 0x06, 0x01, 0x20, 0x07, 0xF4});
  ASSERT_EQ(run(), StopReason::Halted);
  start(0, 0x2000);
  ASSERT_EQ(run(), StopReason::Halted);
  EXPECT_EQ(cpu.s.regs[EAX] & 0xFF, 7u);
}

TEST_F(RealModeCpu, InvalidOpcodeFaultsPreciselyThroughTheIvt) {
  set_ivt(VEC_UD, 0, 0x4000);
  mem.write(0x4000, 0xF4, 1);               // handler: hlt
  load(0, 0x1000, {0x90, 0x0F, 0xFF, 0x90});  // nop ; (invalid) ; nop
  ASSERT_EQ(run(), StopReason::Halted);
  EXPECT_EQ(cpu.s.eip, 0x4001u);
  // The pushed IP is the faulting instruction's, then CS, then FLAGS.
  EXPECT_EQ(mem.read(0x8000 - 6, 2), 0x1001u);
  EXPECT_EQ(mem.read(0x8000 - 4, 2), 0u);
  EXPECT_EQ(cpu.s.regs[ESP] & 0xFFFF, 0x8000u - 6);
}

TEST_F(RealModeCpu, TripleFaultShutsDown) {
  cpu.s.idtr.limit = 0;  // no vector fits: #UD -> #GP -> #DF -> shutdown
  load(0, 0x1000, {0x0F, 0xFF});
  EXPECT_EQ(run(), StopReason::Shutdown);
  EXPECT_TRUE(cpu.s.shutdown);
}

TEST_F(RealModeCpu, SingleInstructionBlocksStepOneAtATime) {
  cpu.set_max_block_insns(1);
  load(0, 0x1000, {0x40, 0x40, 0x40, 0xF4});  // inc ax x3 ; hlt
  cpu.s.regs[EAX] = 0;
  EXPECT_EQ(cpu.run(1), StopReason::Budget);
  EXPECT_EQ(cpu.s.regs[EAX], 1u);
  EXPECT_EQ(cpu.s.eip, 0x1001u);
  EXPECT_EQ(cpu.run(1), StopReason::Budget);
  EXPECT_EQ(cpu.s.regs[EAX], 2u);
}

TEST_F(RealModeCpu, InstructionPointerWrapsAt64K) {
  // CS=0x0100: nop at offset FFFF, then the IP wraps to 0000 where a hlt waits.
  mem.write(0x1000 + 0xFFFF, 0x90, 1);
  mem.write(0x1000, 0xF4, 1);
  start(0x0100, 0xFFFF);
  ASSERT_EQ(run(), StopReason::Halted);
  EXPECT_EQ(cpu.s.eip, 1u);
}

}  // namespace
