#!/usr/bin/env bash
# Installs what is missing, builds, builds the Debian i386 guest (scripts/build-guest.sh) and boots
# it: Debian's kernel and a busybox initramfs through vx86's direct Linux loader, with the serial
# console on this terminal and a busybox shell at the end (leave with `poweroff -f` or Ctrl-A x).
# Extra arguments go to vx86.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
export BUILD_DIR
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build-guest.sh"
set +e
"$BUILD_DIR/vx86" -kernel "$ROOT/guest/vmlinuz" -initrd "$ROOT/guest/initramfs.cpio.gz" \
  -append "console=ttyS0 vx86.shell" -m 256 -nographic "$@"
status=$?
set -e
# 0: Ctrl-A x; 4: the guest halted for good (after `poweroff -f`, as this PC has no ACPI yet).
if [[ $status -eq 0 || $status -eq 4 ]]; then
  exit 0
fi
echo "run: vx86 exited with status $status" >&2
exit "$status"
