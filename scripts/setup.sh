#!/usr/bin/env bash
# Installs what vx86 needs (Debian 12 packages, only those missing) and builds it (Release) into build/.
# Idempotent: a second run installs nothing and rebuilds only what changed.
# Environment: BUILD_DIR (default build), BUILD_TYPE (default Release), JOBS (default: all cores).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
BUILD_TYPE="${BUILD_TYPE:-Release}"

PACKAGES=(
  libzydis-dev libzycore-dev libasmjit-dev libsdl2-dev libgtest-dev libbenchmark-dev libslirp-dev
  libvdeplug-dev nlohmann-json3-dev zlib1g-dev libzstd-dev libpng-dev nasm cmake ninja-build pkg-config seabios g++ clang
  clang-format gdb python3 acpica-tools vde2 tcpdump qemu-utils xvfb xdotool x11-apps openssh-client
)

missing=()
for p in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)"
  [[ "$status" == "installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [[ $EUID -eq 0 ]]; then
    SUDO=()
  elif command -v sudo >/dev/null; then
    SUDO=(sudo)
  else
    echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # A mirror syncing one index makes `apt-get update` fail: carry on with the lists there are.
  "${SUDO[@]}" apt-get update || echo "setup: apt-get update failed; installing from the package lists there are" >&2
  "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

cmake_args=(-S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE")
# Reconfigure only when there is no build tree yet (ninja re-runs cmake itself when CMakeLists change).
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake "${cmake_args[@]}" "$@"
elif (($#)); then
  cmake "${cmake_args[@]}" "$@"
fi
ninja -C "$BUILD_DIR" ${JOBS:+-j"$JOBS"}
