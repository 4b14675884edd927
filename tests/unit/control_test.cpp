// Control transfer, stack, string, data-movement and misc handlers in forms the hardware vectors
// (8086/286, 16-bit only) do not reach: 32-bit operands and addresses (0x66/0x67), ENTER, FS/GS,
// CPUID, POPFD/IRETD flag masks, INS/OUTS.
#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

#include "devices/port_bus.h"
#include "emu/cpu.h"
#include "mmu/physical_memory.h"

using namespace vx86;

namespace {

constexpr uint16_t CODE = 0x1000, STACK = 0x2000, DATA = 0x3000, EXTRA = 0x4000;

struct Rig {
  PhysicalMemory mem{2u << 20};
  PortBus io;
  Cpu cpu{mem, io};

  Rig() {
    cpu.s.model = CpuModel::i386;
    cpu.reset();
    cpu.load_seg_real(CS, CODE);
    cpu.load_seg_real(SS, STACK);
    cpu.load_seg_real(DS, DATA);
    cpu.load_seg_real(ES, EXTRA);
    cpu.load_seg_real(FS, 0x5000);
    cpu.load_seg_real(GS, 0x6000);
    cpu.s.eip = 0;
    cpu.s.regs[ESP] = 0x1000;
    cpu.update_mode();
  }
  // Code at CS:0, followed by HLT.
  void code(std::initializer_list<uint8_t> bytes) {
    uint32_t a = uint32_t{CODE} << 4;
    for (uint8_t b : bytes) mem.ram()[a++] = b;
    mem.ram()[a] = 0xF4;
  }
  uint8_t* at(uint16_t seg, uint32_t off) { return mem.ram() + (uint32_t{seg} << 4) + off; }
  void put16(uint16_t seg, uint32_t off, uint16_t v) { std::memcpy(at(seg, off), &v, 2); }
  void put32(uint16_t seg, uint32_t off, uint32_t v) { std::memcpy(at(seg, off), &v, 4); }
  uint16_t get16(uint16_t seg, uint32_t off) {
    uint16_t v;
    std::memcpy(&v, at(seg, off), 2);
    return v;
  }
  uint32_t get32(uint16_t seg, uint32_t off) {
    uint32_t v;
    std::memcpy(&v, at(seg, off), 4);
    return v;
  }
  StopReason run() { return cpu.run(100000); }
  uint32_t& r(unsigned k) { return cpu.s.regs[k]; }
  // An IVT entry: vector -> seg:off; the handler is a HLT.
  void vector_to_hlt(uint8_t v, uint16_t seg, uint16_t off) {
    put16(0, v * 4u, off);
    put16(0, v * 4u + 2, seg);
    *at(seg, off) = 0xF4;
  }
};

// ---- stack ----

TEST(Stack, Enter16Nested) {
  Rig t;
  t.code({0xC8, 0x08, 0x00, 0x02});  // enter 8, 2
  t.r(EBP) = 0x0F00;
  t.put16(STACK, 0x0EFE, 0xAAAA);
  t.run();
  EXPECT_EQ(t.get16(STACK, 0x0FFE), 0x0F00);  // old BP
  EXPECT_EQ(t.get16(STACK, 0x0FFC), 0xAAAA);  // copied outer frame pointer
  EXPECT_EQ(t.get16(STACK, 0x0FFA), 0x0FFE);  // this frame
  EXPECT_EQ(t.r(EBP), 0x0FFEu);
  EXPECT_EQ(t.r(ESP), 0x0FF2u);
}

TEST(Stack, Enter32Level1AndLeave) {
  Rig t;
  t.code({0x66, 0xC8, 0x04, 0x00, 0x01,  // enter 4, 1 (32-bit operands, 16-bit stack)
          0x66, 0xC9});                  // leave (32-bit)
  t.r(ESP) = 0xABCD1000;
  t.r(EBP) = 0x12340F00;
  t.cpu.s.eip = 0;
  // Run just the ENTER: stop at the LEAVE by placing HLT there first.
  *t.at(CODE, 5) = 0xF4;
  t.run();
  EXPECT_EQ(t.get32(STACK, 0x0FFC), 0x12340F00u);
  EXPECT_EQ(t.get32(STACK, 0x0FF8), 0x00000FFCu);
  EXPECT_EQ(t.r(EBP), 0x12340FFCu);  // a 16-bit stack: only BP changes (SDM: BP := FrameTemp)
  EXPECT_EQ(t.r(ESP), 0xABCD0FF4u);
  // Now LEAVE: SP <- BP, EBP <- pop32.
  *t.at(CODE, 5) = 0x66;
  t.cpu.s.eip = 5;
  t.cpu.s.halted = false;
  t.cpu.blocks.flush();
  t.run();
  EXPECT_EQ(t.r(EBP), 0x12340F00u);
  EXPECT_EQ(t.r(ESP), 0xABCD1000u);
}

TEST(Stack, PushadPopadAndPushEsp) {
  Rig t;
  t.code({0x66, 0x60,        // pushad
          0x66, 0x54,        // push esp
          0x66, 0x58,        // pop eax
          0x66, 0x31, 0xC9,  // xor ecx, ecx (clobber)
          0x66, 0x61});      // popad
  for (unsigned k = 0; k < 8; ++k)
    if (k != ESP) t.r(k) = 0x11111111u * (k + 1);
  t.run();
  EXPECT_EQ(t.get32(STACK, 0x0FFC), 0x11111111u);  // EAX first
  EXPECT_EQ(t.get32(STACK, 0x0FEC), 0x00001000u);  // original ESP
  EXPECT_EQ(t.get32(STACK, 0x0FE0), 0x88888888u);  // EDI last
  EXPECT_EQ(t.r(ECX), 0x22222222u);
  EXPECT_EQ(t.r(EAX), 0x11111111u);
  EXPECT_EQ(t.r(ESP), 0x1000u);
}

TEST(Stack, PushSpOn8086PushesDecremented) {
  Rig t;
  t.cpu.s.model = CpuModel::i8086;
  t.code({0x54});  // push sp
  t.run();
  EXPECT_EQ(t.get16(STACK, 0x0FFE), 0x0FFE);
  Rig u;
  u.code({0x54});
  u.run();
  EXPECT_EQ(u.get16(STACK, 0x0FFE), 0x1000);
}

TEST(Stack, Push32SegmentWritesSelectorOnly) {
  Rig t;
  t.put32(STACK, 0x0FFC, 0xDEADBEEF);
  t.code({0x66, 0x0F, 0xA0,   // push fs (32-bit)
          0x66, 0x0F, 0xA9}); // pop gs (32-bit)
  t.run();
  EXPECT_EQ(t.get32(STACK, 0x0FFC), 0xDEAD5000u);
  EXPECT_EQ(t.cpu.s.seg[GS].sel, 0x5000);
  EXPECT_EQ(t.cpu.s.seg[GS].base, 0x50000u);
  EXPECT_EQ(t.r(ESP), 0x1000u);
}

TEST(Stack, PopMemWithEspBaseUsesIncrementedEsp) {
  Rig t;
  t.put16(STACK, 0x0FF0, 0x1234);
  t.r(ESP) = 0x0FF0;
  t.code({0x36, 0x67, 0x8F, 0x04, 0x24});  // pop word [ss:esp]
  t.run();
  EXPECT_EQ(t.get16(STACK, 0x0FF2), 0x1234);
  EXPECT_EQ(t.r(ESP), 0x0FF2u);
}

TEST(Stack, PopfdMasks) {
  Rig t;
  t.put32(STACK, 0x0FFC, 0xFFFFFEFF);  // all but TF (TF would single-step into vector 1)
  t.r(ESP) = 0x0FFC;
  t.code({0x66, 0x9D});  // popfd
  t.run();
  // CF..OF, IOPL, NT, AC, ID set; RF, VM, VIF, VIP and reserved bits clear.
  EXPECT_EQ(t.cpu.s.eflags, 0x00247ED7u);
}

TEST(Stack, PopfSetsIfAndEndsBlock) {
  Rig t;
  t.put16(STACK, 0x0FFE, 0x0202);
  t.r(ESP) = 0x0FFE;
  t.code({0x9D, 0x90});
  t.run();
  EXPECT_TRUE(t.cpu.s.eflags & F_IF);
}

// ---- control ----

TEST(Control, Call32AndRet32) {
  Rig t;
  // call +2 (32-bit, pushes a 4-byte return address), skip 2 bytes, target: ret (32-bit)
  t.code({0x66, 0xE8, 0x02, 0x00, 0x00, 0x00, 0xF4, 0xF4, 0x66, 0xC3});
  t.run();
  EXPECT_EQ(t.get32(STACK, 0x0FFC), 6u);
  EXPECT_EQ(t.r(ESP), 0x1000u);
  EXPECT_EQ(t.cpu.s.eip, 7u);  // returned to the HLT at 6, stopped after it
}

TEST(Control, CallFarIndirect32AndRetf32) {
  Rig t;
  t.put32(DATA, 0x100, 0x00000010);  // offset
  t.put16(DATA, 0x104, 0x1800);      // selector
  t.code({0x66, 0xFF, 0x1E, 0x00, 0x01});  // call far dword [0x100]
  *t.at(0x1800, 0x10) = 0x66;
  *t.at(0x1800, 0x11) = 0xCB;  // retf (32-bit)
  t.run();
  EXPECT_EQ(t.get32(STACK, 0x0FF8), 5u);        // return offset
  EXPECT_EQ(t.get16(STACK, 0x0FFC), CODE);      // CS
  EXPECT_EQ(t.cpu.s.seg[CS].sel, CODE);
  EXPECT_EQ(t.r(ESP), 0x1000u);
  EXPECT_EQ(t.cpu.s.eip, 6u);
}

TEST(Control, JmpFarPtr32) {
  Rig t;
  t.code({0x66, 0xEA, 0x20, 0x00, 0x00, 0x00, 0x00, 0x18});  // jmp 1800:00000020
  *t.at(0x1800, 0x20) = 0xF4;
  t.run();
  EXPECT_EQ(t.cpu.s.seg[CS].sel, 0x1800);
  EXPECT_EQ(t.cpu.s.eip, 0x21u);
}

TEST(Control, Jmp32BeyondLimitFaults) {
  Rig t;
  t.vector_to_hlt(VEC_GP, 0x0800, 0);
  t.code({0x66, 0xE9, 0x00, 0x00, 0x01, 0x00});  // jmp +0x10000 (32-bit)
  t.run();
  EXPECT_EQ(t.cpu.s.seg[CS].sel, 0x0800);
  EXPECT_EQ(t.get16(STACK, 0x0FFA), 0);  // faulting IP pushed
}

TEST(Control, LoopAddressSize) {
  Rig t;
  t.r(ECX) = 0x00010001;
  t.code({0x67, 0xE2, 0xFD});  // loop $ with ECX: 0x10001 iterations
  t.run();
  EXPECT_EQ(t.r(ECX), 0u);
  Rig u;
  u.r(ECX) = 0x00010003;
  u.code({0xE2, 0xFE});  // loop $ with CX: 3 iterations, upper half kept
  u.run();
  EXPECT_EQ(u.r(ECX), 0x00010000u);
}

TEST(Control, JecxzVsJcxz) {
  Rig t;
  t.r(ECX) = 0x00010000;  // CX = 0 but ECX != 0
  t.code({0x67, 0xE3, 0x01,  // jecxz +1: not taken
          0xE3, 0x01,        // jcxz +1: taken
          0xF4,
          0xF4});
  t.run();
  EXPECT_EQ(t.cpu.s.eip, 7u);
}

TEST(Control, IretdRestoresFlagsMask) {
  Rig t;
  t.put32(STACK, 0x0FF4, 0x00000030);  // EIP
  t.put32(STACK, 0x0FF8, 0x00001800);  // CS
  t.put32(STACK, 0x0FFC, 0xFFFFFEFF);  // EFLAGS: all but TF (TF would single-step)
  t.r(ESP) = 0x0FF4;
  *t.at(0x1800, 0x30) = 0xF4;
  t.code({0x66, 0xCF});
  t.cpu.run(1);  // the IRETD alone
  EXPECT_EQ(t.cpu.s.eflags, 0x00257ED7u);
  EXPECT_EQ(t.r(ESP), 0x1000u);
  EXPECT_EQ(t.cpu.s.seg[CS].sel, 0x1800);
  t.run();  // the HLT there: RF is cleared once an instruction completes
  EXPECT_EQ(t.cpu.s.eflags, 0x00247ED7u);
}

TEST(Control, IntAndIret) {
  Rig t;
  t.put16(0, 0x21 * 4, 0x0040);
  t.put16(0, 0x21 * 4 + 2, 0x1800);
  *t.at(0x1800, 0x40) = 0xCF;  // iret
  t.cpu.s.eflags |= F_IF;
  t.code({0xCD, 0x21, 0x90});
  t.run();
  EXPECT_EQ(t.cpu.s.eip, 4u);
  EXPECT_EQ(t.cpu.s.seg[CS].sel, CODE);
  EXPECT_TRUE(t.cpu.s.eflags & F_IF);
  EXPECT_EQ(t.r(ESP), 0x1000u);
}

TEST(Control, NotrackPrefixIsStillDsOverride) {
  Rig t;
  t.r(EBP) = 0x100;
  t.r(ESI) = 0;
  t.put16(DATA, 0x100, 0x0010);  // DS:[bp+si]
  t.put16(STACK, 0x100, 0x0020); // SS:[bp+si] (wrong one)
  *t.at(CODE, 0x10) = 0xF4;
  t.code({0x3E, 0xFF, 0x22});  // jmp word [ds:bp+si]
  t.run();
  EXPECT_EQ(t.cpu.s.eip, 0x11u);
}

// ---- strings ----

TEST(String, RepMovsdAddr32) {
  Rig t;
  for (unsigned k = 0; k < 16; ++k) *t.at(DATA, 0x200 + k) = static_cast<uint8_t>(k + 1);
  t.r(ESI) = 0x200;
  t.r(EDI) = 0x300;
  t.r(ECX) = 4;
  t.code({0x66, 0x67, 0xF3, 0xA5});  // rep movsd (ESI/EDI/ECX)
  t.run();
  for (unsigned k = 0; k < 16; ++k) EXPECT_EQ(*t.at(EXTRA, 0x300 + k), k + 1);
  EXPECT_EQ(t.r(ESI), 0x210u);
  EXPECT_EQ(t.r(EDI), 0x310u);
  EXPECT_EQ(t.r(ECX), 0u);
}

TEST(String, RepStosbBackwardKeepsUpperHalves) {
  Rig t;
  t.cpu.s.eflags |= F_DF;
  t.r(EDI) = 0xABCD0105;
  t.r(ECX) = 0x77770003;
  t.r(EAX) = 0x5A;
  t.code({0xF3, 0xAA});
  t.run();
  EXPECT_EQ(*t.at(EXTRA, 0x105), 0x5A);
  EXPECT_EQ(*t.at(EXTRA, 0x104), 0x5A);
  EXPECT_EQ(*t.at(EXTRA, 0x103), 0x5A);
  EXPECT_EQ(*t.at(EXTRA, 0x102), 0x00);
  EXPECT_EQ(t.r(EDI), 0xABCD0102u);
  EXPECT_EQ(t.r(ECX), 0x77770000u);
}

TEST(String, RepeCmpsbStopsAtDifference) {
  Rig t;
  const char a[] = "hello!", b[] = "help!!";
  std::memcpy(t.at(DATA, 0x10), a, 6);
  std::memcpy(t.at(EXTRA, 0x20), b, 6);
  t.r(ESI) = 0x10;
  t.r(EDI) = 0x20;
  t.r(ECX) = 6;
  t.code({0xF3, 0xA6});
  t.run();
  EXPECT_EQ(t.r(ECX), 2u);  // stopped after comparing 'l' with 'p'
  EXPECT_EQ(t.r(ESI), 0x14u);
  EXPECT_FALSE(t.cpu.s.eflags & F_ZF);
  EXPECT_TRUE(t.cpu.s.eflags & F_CF);  // 'l' < 'p'
}

TEST(String, RepneScasbFinds) {
  Rig t;
  std::memcpy(t.at(EXTRA, 0), "abcdef", 6);
  t.r(EAX) = 'd';
  t.r(ECX) = 100;
  t.code({0xF2, 0xAE});
  t.run();
  EXPECT_EQ(t.r(EDI), 4u);
  EXPECT_EQ(t.r(ECX), 96u);
  EXPECT_TRUE(t.cpu.s.eflags & F_ZF);
}

TEST(String, SourceOverrideAndRepZeroCount) {
  Rig t;
  *t.at(0x5000, 0x40) = 0x99;  // FS:0x40
  t.r(ESI) = 0x40;
  t.code({0x64, 0xAC,        // lodsb from FS
          0xF3, 0xA4});      // rep movsb with CX = 0: nothing
  t.run();
  EXPECT_EQ(t.r(EAX) & 0xFF, 0x99u);
  EXPECT_EQ(t.r(ESI), 0x41u);
  Rig u;
  *u.at(EXTRA, 0x40) = 0x77;
  u.r(ESI) = 0x40;
  u.code({0x26, 0xAC});  // lodsb from ES
  u.run();
  EXPECT_EQ(u.r(EAX) & 0xFF, 0x77u);
}

TEST(String, FaultMidRepLeavesStateRestartable) {
  Rig t;
  t.vector_to_hlt(VEC_GP, 0x0800, 0);
  t.r(ESI) = 0xFFF9;
  t.r(EDI) = 0;
  t.r(ECX) = 10;
  t.code({0xF3, 0xA5});  // rep movsw: the 4th word straddles DS:FFFF
  t.run();
  EXPECT_EQ(t.r(ECX), 7u);
  EXPECT_EQ(t.r(ESI), 0xFFFFu);
  EXPECT_EQ(t.r(EDI), 6u);
  EXPECT_EQ(t.get16(STACK, 0x0FFA), 0);  // IP of the REP instruction
}

// A REP longer than the handler's chunk gives up with EIP unchanged and resumes; an interrupt
// taken in between returns to the REP instruction, which finishes the count.
TEST(String, LongRepResumesAcrossChunksAndInterrupts) {
  Rig t;
  t.put16(0, 0x40 * 4, 0x0000);
  t.put16(0, 0x40 * 4 + 2, 0x0800);
  *t.at(0x0800, 0) = 0xCF;  // iret
  struct Once : InterruptSource {
    int left = 1;
    uint32_t* ecx = nullptr;
    uint32_t seen_ecx = 0;
    // Raised once the REP has started (and not finished).
    bool pending() override { return left > 0 && *ecx != 0x30000 && *ecx != 0; }
    uint8_t acknowledge() override {
      --left;
      seen_ecx = *ecx;
      return 0x40;
    }
  } pic;
  pic.ecx = &t.r(ECX);
  t.cpu.intr = &pic;
  t.cpu.s.eflags |= F_IF;
  t.cpu.load_seg_real(ES, 0x8000);
  t.cpu.s.seg[ES].limit = 0xFFFFFFFFu;  // "unreal mode", so 32-bit offsets above 64 KiB are valid
  t.cpu.update_mode();                   // the segment cache changed: refresh the access bounds
  t.r(EDI) = 0;
  t.r(ECX) = 0x30000;
  t.r(EAX) = 0xAB;
  t.code({0x67, 0xF3, 0xAA});  // rep stosb with EDI/ECX
  t.run();
  EXPECT_EQ(pic.left, 0);
  EXPECT_GT(pic.seen_ecx, 0u);  // taken in the middle of the REP
  EXPECT_EQ(t.r(ECX), 0u);
  EXPECT_EQ(t.r(EDI), 0x30000u);
  EXPECT_EQ(*t.at(0x8000, 0x2FFFF), 0xAB);
  EXPECT_EQ(*t.at(0x8000, 0x30000), 0x00);
  EXPECT_EQ(t.cpu.s.eip, 4u);
}

struct EchoPort : IoDevice {
  std::vector<uint32_t> written;
  uint32_t next = 0x100;
  uint32_t io_read(uint16_t, unsigned) override { return next++; }
  void io_write(uint16_t, uint32_t v, unsigned) override { written.push_back(v); }
};

TEST(String, InsOuts) {
  Rig t;
  EchoPort dev;
  t.io.attach(0x300, 4, &dev);
  t.r(EDX) = 0x300;
  t.r(EDI) = 0x10;
  t.r(ECX) = 3;
  t.code({0xF3, 0x6D});  // rep insw
  t.run();
  EXPECT_EQ(t.get16(EXTRA, 0x10), 0x100);
  EXPECT_EQ(t.get16(EXTRA, 0x14), 0x102);
  Rig u;
  u.io.attach(0x300, 4, &dev);
  u.r(EDX) = 0x300;
  u.r(ESI) = 0;
  u.r(ECX) = 2;
  u.put32(DATA, 0, 0x11223344);
  u.put32(DATA, 4, 0x55667788);
  u.code({0x66, 0xF3, 0x6F});  // rep outsd
  u.run();
  ASSERT_EQ(dev.written.size(), 2u);
  EXPECT_EQ(dev.written[1], 0x55667788u);
}

// ---- data movement ----

TEST(Mov, MovzxMovsx) {
  Rig t;
  t.r(EBX) = 0x80F0;
  t.code({0x66, 0x0F, 0xBE, 0xC3,   // movsx eax, bl
          0x66, 0x0F, 0xB7, 0xCB,   // movzx ecx, bx
          0x0F, 0xBF, 0xD3});       // movsx dx, bx
  t.r(EDX) = 0xFFFF0000;
  t.run();
  EXPECT_EQ(t.r(EAX), 0xFFFFFFF0u);
  EXPECT_EQ(t.r(ECX), 0x000080F0u);
  EXPECT_EQ(t.r(EDX), 0xFFFF80F0u);
}

TEST(Mov, LssLfsLgs) {
  Rig t;
  t.put32(DATA, 0x10, 0x00012345);
  t.put16(DATA, 0x14, 0x2222);
  t.put16(DATA, 0x20, 0x0456);
  t.put16(DATA, 0x22, 0x3333);
  t.code({0x66, 0x0F, 0xB2, 0x26, 0x10, 0x00,  // lss esp, [0x10]
          0x0F, 0xB4, 0x1E, 0x20, 0x00,        // lfs bx, [0x20]
          0x0F, 0xB5, 0x2E, 0x20, 0x00});      // lgs bp, [0x20]
  t.run();
  EXPECT_EQ(t.r(ESP), 0x00012345u);
  EXPECT_EQ(t.cpu.s.seg[SS].sel, 0x2222);
  EXPECT_EQ(t.cpu.s.seg[FS].base, 0x33330u);
  EXPECT_EQ(t.r(EBX) & 0xFFFF, 0x0456u);
  EXPECT_EQ(t.cpu.s.seg[GS].sel, 0x3333);
}

TEST(Mov, XlatCwdeCdqSahfLahf) {
  Rig t;
  *t.at(EXTRA, 0x105) = 0xC3;
  t.r(EBX) = 0x100;
  t.r(EAX) = 0x05;
  t.code({0x26, 0xD7,   // xlat es:
          0x98,         // cbw: AX = FFC3
          0x66, 0x98,   // cwde
          0x66, 0x99}); // cdq
  t.run();
  EXPECT_EQ(t.r(EAX), 0xFFFFFFC3u);
  EXPECT_EQ(t.r(EDX), 0xFFFFFFFFu);
}

TEST(Mov, XchgForms) {
  Rig t;
  t.r(EAX) = 1;
  t.r(ECX) = 2;
  t.put16(DATA, 0x10, 0x3333);
  t.code({0x91,                    // xchg cx, ax
          0x87, 0x06, 0x10, 0x00}); // xchg [0x10], ax
  t.run();
  EXPECT_EQ(t.r(ECX), 1u);
  EXPECT_EQ(t.r(EAX), 0x3333u);
  EXPECT_EQ(t.get16(DATA, 0x10), 2);
}

// ---- misc ----

TEST(Misc, Cpuid) {
  Rig t;
  t.r(EAX) = 0;
  t.code({0x0F, 0xA2});
  t.run();
  EXPECT_EQ(t.r(EAX), 1u);
  char v[13] = {};
  std::memcpy(v, &t.r(EBX), 4);
  std::memcpy(v + 4, &t.r(EDX), 4);
  std::memcpy(v + 8, &t.r(ECX), 4);
  EXPECT_STREQ(v, "GenuineIntel");
  Rig u;
  u.r(EAX) = 1;
  u.code({0x0F, 0xA2});
  u.run();
  EXPECT_EQ(u.r(EAX), 0x633u);
}

TEST(Misc, PopfdIdToggles) {
  Rig t;
  t.code({0x66, 0x9C, 0x66, 0x58,              // pushfd; pop eax
          0x66, 0x35, 0x00, 0x00, 0x20, 0x00,  // xor eax, 0x200000
          0x66, 0x50, 0x66, 0x9D,              // push eax; popfd
          0x66, 0x9C, 0x66, 0x5B});            // pushfd; pop ebx
  t.run();
  EXPECT_EQ(t.r(EBX) & F_ID, F_ID);
}

TEST(Misc, BoundRaisesBr) {
  Rig t;
  t.vector_to_hlt(VEC_BR, 0x0800, 0);
  t.put16(DATA, 0, static_cast<uint16_t>(-5));
  t.put16(DATA, 2, 10);
  t.r(EAX) = static_cast<uint16_t>(-6);
  t.code({0x62, 0x06, 0x00, 0x00});  // bound ax, [0]
  t.run();
  EXPECT_EQ(t.cpu.s.seg[CS].sel, 0x0800);
  EXPECT_EQ(t.get16(STACK, 0x0FFA), 0);  // BOUND's own IP
  Rig u;
  u.put16(DATA, 0, static_cast<uint16_t>(-5));
  u.put16(DATA, 2, 10);
  u.r(EAX) = 10;
  u.code({0x62, 0x06, 0x00, 0x00});
  u.run();
  EXPECT_EQ(u.cpu.s.seg[CS].sel, CODE);
}

TEST(Misc, SalcAndFlagOps) {
  Rig t;
  t.code({0xF9, 0xD6,   // stc; salc
          0xF5,         // cmc
          0xFD, 0xFA}); // std; cli
  t.cpu.s.eflags |= F_IF;
  t.run();
  EXPECT_EQ(t.r(EAX) & 0xFF, 0xFFu);
  EXPECT_FALSE(t.cpu.s.eflags & F_CF);
  EXPECT_TRUE(t.cpu.s.eflags & F_DF);
  EXPECT_FALSE(t.cpu.s.eflags & F_IF);
}

struct AlwaysPending : InterruptSource {
  bool pending() override { return true; }
  uint8_t acknowledge() override { return 0x40; }
};

// An interrupt pending while IF=0 is not taken right after STI but one instruction (here: one
// block) later.
TEST(Misc, StiDelaysInterrupt) {
  Rig t;
  AlwaysPending pic;
  t.cpu.intr = &pic;
  t.vector_to_hlt(0x40, 0x0800, 0);
  t.code({0xFB, 0x90});  // sti; nop; hlt
  t.run();
  EXPECT_EQ(t.cpu.s.seg[CS].sel, 0x0800);
  EXPECT_NE(t.get16(STACK, 0x0FFA), 1);  // not between STI and NOP
}

}  // namespace
