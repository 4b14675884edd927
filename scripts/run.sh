#!/usr/bin/env bash
# Installs what is missing, builds, and runs vx86's default guest: for now the demo ROM, whose
# banner appears on the terminal. Extra arguments go to vx86.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
export BUILD_DIR
"$ROOT/scripts/setup.sh"
set +e
"$BUILD_DIR/vx86" -bios "$BUILD_DIR/roms/demo.bin" -nographic "$@"
status=$?
set -e
# The demo ROM ends through isa-debug-exit with code 0, which vx86 reports as status 1.
if [[ $status -eq 1 ]]; then
  exit 0
fi
echo "run: vx86 exited with status $status" >&2
exit "$status"
