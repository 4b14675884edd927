#!/usr/bin/env bash
# `cmake --install` puts the library, its headers and vx86.pc under a prefix; the embedding
# examples then build against that installation with pkg-config alone (C with cc, C++ with c++),
# and the C one runs: a missing disk image is an error code with a message, exit status 2.
# usage: install_test.sh BUILD_DIR SOURCE_DIR WORKDIR
set -euo pipefail
build="$1" src="$2" work="$3"
rm -rf "$work" && mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
[[ -n "$(ls "$work"/prefix/lib*/pkgconfig/vx86.pc 2>/dev/null)" ]] || { echo "FAIL: no vx86.pc installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$(ls "$work"/prefix/lib*/pkgconfig/vx86.pc)")"
[[ -f "$work/prefix/include/vx86/vx86.h" && -f "$work/prefix/include/vx86/vx86.hpp" ]] || { echo "FAIL: headers"; exit 1; }
cc -std=c11 -Wall -Wextra -Werror "$src/frontend/api/examples/embed.c" $(pkg-config --cflags --libs vx86) -o "$work/embed_c"
c++ -std=c++20 -Wall -Wextra -Werror "$src/frontend/api/examples/embed.cpp" $(pkg-config --cflags --libs vx86) -o "$work/embed_cpp"
cc -std=c11 -Wall -Wextra -Werror "$src/frontend/api/examples/embed_virtio.c" $(pkg-config --cflags --libs vx86) -o "$work/embed_virtio"
set +e
"$work/embed_c" raw:/nonexistent/vx86-disk.img > "$work/out.txt" 2> "$work/err.txt"
status=$?
set -e
if [[ $status -ne 2 ]] || ! grep -q "vx86_vm_start(vm): cannot open disk image '/nonexistent/vx86-disk.img'" "$work/err.txt"; then
  echo "FAIL: status $status, stderr: $(cat "$work/err.txt")"
  exit 1
fi
echo "install: library, headers and vx86.pc installed; the examples build with pkg-config and report errors"
