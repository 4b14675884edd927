// Guest throughput of both tiers: guest instructions per second on fixed workloads
// (bench/bench_rom.asm), each run by the interpreter (second argument 0) and by the JIT (1).
// Run: build/bench/vx86_interp_bench  (see docs/performance.md).
//
// Counters:
//   guest_insn/s  instructions executed per second of CPU time, counted exactly from the guest's
//                 own pass counter (each REP iteration counts as one instruction)
//   icount/s      the same from vx86's CpuState::icount (which counts whole blocks and a REP
//                 instruction once), as a cross-check
//   bytes/s       (string workload) bytes read and written by the string instructions per second
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>

#include "emu/board/machine.h"

namespace {

constexpr uint32_t SELECT = 0x0500;
constexpr uint32_t PASSES = 0x0504;

// Instructions per pass of each workload, from bench_rom.asm.
constexpr uint64_t ALU_INSNS_PER_PASS = 1 + 1000 * 8 + 2;
constexpr uint64_t STRING_INSNS_PER_PASS = (3 + 2048) + (3 + 4096) + (2 + 512 * 3) + 2;
constexpr uint64_t STRING_BYTES_PER_PASS = 2048 * 2 * 2 + 4096 + 512;  // movsw read+write, stosb, lodsb
constexpr uint64_t BRANCHY_INSNS_PER_PASS = 1 + 500 * 9 + 2;

std::vector<uint8_t> load_rom() {
  std::ifstream in(VX86_BENCH_ROM, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " VX86_BENCH_ROM);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::unique_ptr<vx86::Machine> make_machine(uint8_t workload, bool jit) {
  static const std::vector<uint8_t> rom = load_rom();
  vx86::MachineConfig cfg;
  cfg.bios = rom;
  cfg.jit = jit;
  cfg.debugcon = nullptr;
  auto m = std::make_unique<vx86::Machine>(cfg);
  m->memory().ram()[SELECT] = workload;
  return m;
}

uint32_t passes(vx86::Machine& m) {
  uint32_t v;
  std::memcpy(&v, m.memory().ram() + PASSES, sizeof v);
  return v;
}

void run_workload(benchmark::State& state, uint8_t workload, uint64_t insns_per_pass,
                  uint64_t bytes_per_pass) {
  auto m = make_machine(workload, state.range(1) != 0);
  const uint64_t slice = static_cast<uint64_t>(state.range(0));
  m->run(slice);  // warm up: translate the blocks
  if (m->guest_exit_status() || passes(*m) == 0) {
    state.SkipWithError("the guest did not reach its loop (missing instructions?)");
    return;
  }
  const uint32_t p0 = passes(*m);
  const uint64_t ic0 = m->cpu().s.icount;
  for (auto _ : state) {
    vx86::MachineExit r = m->run(slice);
    if (r != vx86::MachineExit::Budget) {
      state.SkipWithError("the guest stopped");
      return;
    }
  }
  const double n_passes = static_cast<double>(passes(*m) - p0);
  state.counters["guest_insn/s"] =
      benchmark::Counter(n_passes * static_cast<double>(insns_per_pass), benchmark::Counter::kIsRate);
  state.counters["icount/s"] =
      benchmark::Counter(static_cast<double>(m->cpu().s.icount - ic0), benchmark::Counter::kIsRate);
  if (bytes_per_pass)
    state.counters["bytes/s"] =
        benchmark::Counter(n_passes * static_cast<double>(bytes_per_pass), benchmark::Counter::kIsRate);
  state.counters["blocks"] = static_cast<double>(m->cpu().blocks_translated());
}

void BM_AluLoop(benchmark::State& state) { run_workload(state, 0, ALU_INSNS_PER_PASS, 0); }
void BM_StringOps(benchmark::State& state) {
  run_workload(state, 1, STRING_INSNS_PER_PASS, STRING_BYTES_PER_PASS);
}
void BM_CallsBranches(benchmark::State& state) { run_workload(state, 2, BRANCHY_INSNS_PER_PASS, 0); }
// The ALU loop as 32-bit protected-mode code with paging off, then on (TLB hit path with paging).
void BM_AluLoop32PagingOff(benchmark::State& state) { run_workload(state, 3, ALU_INSNS_PER_PASS, 0); }
void BM_AluLoop32PagingOn(benchmark::State& state) { run_workload(state, 4, ALU_INSNS_PER_PASS, 0); }

// The arguments: the run() slice in icount units (see above for how icount counts), and the tier
// (0 = the interpreter, 1 = the JIT).
BENCHMARK(BM_AluLoop)->ArgsProduct({{10'000'000}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_StringOps)->ArgsProduct({{1'000'000}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CallsBranches)->ArgsProduct({{10'000'000}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AluLoop32PagingOff)->ArgsProduct({{10'000'000}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AluLoop32PagingOn)->ArgsProduct({{10'000'000}, {0, 1}})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
