// What drawing the screen costs the host (issue 10): VgaDisplay::refresh, as the window calls it
// 60 times a second, for a 1024x768x32 VBE screen and an 80x25 text screen, idle (nothing
// written since the last frame) and fully changed (every row written). Counters: us_per_frame,
// and core_pct_at_60Hz, the share of one host core that 60 such frames a second take (CPU time).
#include <benchmark/benchmark.h>
#include <time.h>

#include "devices/vga.h"
#include "devices/vga_display.h"

using namespace vx86;

namespace {

constexpr uint64_t kFrameNs = 1'000'000'000 / 60;

void dispi(Vga& v, uint16_t index, uint16_t value) {
  v.io_write(0x1CE, index, 2);
  v.io_write(0x1CF, value, 2);
}

void vbe_1024x768x32(Vga& v) {
  dispi(v, 1, 1024);
  dispi(v, 2, 768);
  dispi(v, 3, 32);
  dispi(v, 4, 0x41);
  for (uint32_t i = 0; i < 1024 * 768; ++i) v.lfb().mmio_write(v.lfb_base() + i * 4, i * 2654435761u, 4);
}

void text_80x25(Vga& v) {
  for (uint32_t cell = 0; cell < 80 * 25; ++cell) v.mmio_write(0xB8000 + cell * 2, 0x0700 | (cell & 0xFF), 2);
}

double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// The CPU time of the refreshes alone, per frame, and as a share of one core at 60 frames a second.
void counters(benchmark::State& state, double cpu_ns) {
  const double per_frame = cpu_ns / static_cast<double>(state.iterations());
  state.counters["us_per_frame"] = per_frame / 1e3;
  state.counters["core_pct_at_60Hz"] = per_frame * 60 / 1e9 * 100;
}

// Every row written (one pixel or character each, outside the timing): the whole screen redrawn.
template <bool kVbe>
void touch_every_row(Vga& v, uint32_t k) {
  if (kVbe)
    for (uint32_t y = 0; y < 768; ++y)
      v.lfb().mmio_write(v.lfb_base() + (y * 1024 + (k & 1023)) * 4, k + y, 4);
  else
    for (uint32_t r = 0; r < 25; ++r)
      v.mmio_write(0xB8000 + (r * 80 + (k % 80)) * 2, 0x0700 | ((k + r) & 0xFF), 2);
}

template <bool kVbe, bool kChange>
void BM_Frame(benchmark::State& state) {
  Vga vga;
  vga.reset();
  if (kVbe)
    vbe_1024x768x32(vga);
  else
    text_80x25(vga);
  VgaDisplay display(vga);
  uint64_t now = 0;
  display.refresh(now);
  uint32_t k = 0;
  double cpu_ns = 0;
  for (auto _ : state) {
    if (kChange) {
      state.PauseTiming();
      touch_every_row<kVbe>(vga, ++k);
      state.ResumeTiming();
    }
    now += kFrameNs;
    const double t0 = thread_cpu_ns();
    benchmark::DoNotOptimize(display.refresh(now));
    cpu_ns += thread_cpu_ns() - t0;
  }
  counters(state, cpu_ns);
  if (kChange && display.bands_drawn() < static_cast<uint64_t>(state.iterations()) * (kVbe ? 768 : 25))
    state.SkipWithError("a changed frame was not redrawn in full");
}

BENCHMARK(BM_Frame<true, false>)->Name("BM_FrameIdle/vbe_1024x768x32");
BENCHMARK(BM_Frame<true, true>)->Name("BM_FrameFullChange/vbe_1024x768x32");
BENCHMARK(BM_Frame<false, false>)->Name("BM_FrameIdle/text_80x25");
BENCHMARK(BM_Frame<false, true>)->Name("BM_FrameFullChange/text_80x25");

}  // namespace

BENCHMARK_MAIN();
