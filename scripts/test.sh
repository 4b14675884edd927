#!/usr/bin/env bash
# Installs what is missing, builds (Release, build/), runs the whole test suite with CTest, then
# builds again with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/) and runs the unit,
# ROM and CLI tests there. Runs both passes, then exits non-zero if anything failed.
# Environment: JOBS (parallel build/test jobs, default: all cores), SKIP_ASAN=1 to skip the
# sanitizer pass, BUILD_DIR / ASAN_DIR to build elsewhere, LONG=1 to run the tests labelled
# `long` too (over ten minutes each; CI leaves them out).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="${JOBS:-$(nproc)}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
ASAN_DIR="${ASAN_DIR:-$ROOT/build-asan}"
export JOBS BUILD_DIR

"$ROOT/scripts/setup.sh"
# The Debian i386 guest (kernel, initramfs, disk image) for the whole-guest boot tests.
"$ROOT/scripts/build-guest.sh"
status=0
# Tests labelled `long` (more than ten minutes each) only with LONG=1.
long=(-LE long)
[[ "${LONG:-0}" == 1 ]] && long=()
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$JOBS" "${long[@]}" || status=1

if [[ "${SKIP_ASAN:-0}" != 1 ]]; then
  if [[ ! -f "$ASAN_DIR/build.ninja" ]]; then
    cmake -S "$ROOT" -B "$ASAN_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DVX86_SANITIZE=ON -DVX86_BENCHMARKS=OFF
  fi
  ninja -C "$ASAN_DIR" -j"$JOBS"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$ASAN_DIR" --output-on-failure -j"$JOBS" -L 'unit|roms|cli' || status=1
fi
if ((status)); then
  echo "test: FAILED (see the CTest output above)" >&2
else
  echo "test: all passed"
fi
exit "$status"
