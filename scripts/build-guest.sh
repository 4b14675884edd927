#!/usr/bin/env bash
# Builds vx86's test guest from Debian's i386 packages (see docs/guest-images.md):
#   guest/vmlinuz            Debian's linux-image-686 kernel
#   guest/initramfs.cpio.gz  busybox-static + an /init that prints VX86-GUEST-UP, runs a few
#                            commands, reads HELLO.TXT from /dev/sda1 or /dev/vda1 (virtio) if
#                            there is a disk, powers off; Debian's dropbear (i386, with its shared
#                            libraries and ld.so) for the vx86.sshd mode
#   guest/ssh/               the guest's dropbear host key and a client key pair (id_ed25519,
#                            id_ed25519.pub) whose public half is root's authorized key in the
#                            guest; generated once, kept across runs like the .debs
#   guest/cdrom.iso          a bootable El Torito CD (isolinux, no emulation) with the kernel and
#                            initramfs, for -cdrom / -boot d
#   guest/disk.img           a bootable raw disk: syslinux MBR, one FAT16 partition with syslinux,
#                            the kernel, the initramfs and HELLO.TXT
#   guest/expected.txt       what the guest must print (sha256 of its generated file, HELLO.TXT)
# Runs as root (installs the host tools and adds the i386 architecture with apt). Idempotent:
# downloads only what is missing and rebuilds the images (deterministically) each run.
# No loop mounts and no root-only file operations: the images are built from files.
#
# Usage: scripts/build-guest.sh [--validate]
#   --validate  also boots both images in Debian's qemu-system-i386 (TCG) and prints the seconds
#               to the marker line; needs qemu-system-x86 (installed then).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GUEST="$ROOT/guest"
WORK="$GUEST/work"
VALIDATE=0
[[ "${1:-}" == "--validate" ]] && VALIDATE=1

log() { echo "build-guest: $*" >&2; }

if [[ $EUID -eq 0 ]]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo); else SUDO=(); fi
export DEBIAN_FRONTEND=noninteractive

# Host tools (Debian packages), installed only when missing.
# dropbear-bin (the host's) makes the guest's host key; openssh-client the client key pair;
# binutils' readelf lists the libraries the i386 dropbear needs (it cannot run here).
TOOLS=(syslinux syslinux-common isolinux genisoimage mtools dosfstools cpio fdisk gzip python3 dropbear-bin
  openssh-client binutils nasm)
((VALIDATE)) && TOOLS+=(qemu-system-x86)
missing=()
for p in "${TOOLS[@]}"; do
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" == installed ]] || missing+=("$p")
done
updated=0
if ! dpkg --print-foreign-architectures | grep -qx i386; then
  log "adding the i386 architecture"
  "${SUDO[@]}" dpkg --add-architecture i386
  "${SUDO[@]}" apt-get update -q || true  # a mirror hiccup on one index must not stop us
  updated=1
fi
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  ((updated)) || "${SUDO[@]}" apt-get update -q || true
  updated=1
  "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

# The kernel package linux-image-686 points to (e.g. linux-image-6.1.0-50-686).
kpkg="$(apt-cache depends linux-image-686:i386 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
if [[ -z "$kpkg" && $updated -eq 0 ]]; then
  "${SUDO[@]}" apt-get update -q || true
  kpkg="$(apt-cache depends linux-image-686:i386 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
fi
[[ -n "$kpkg" ]] || { log "cannot resolve linux-image-686:i386 (apt-get update?)"; exit 1; }
kpkg="${kpkg%:i386}"
log "kernel package: $kpkg"

# dropbear-bin's Depends (and libtomcrypt1's libgmp10); the readelf walk below checks that every
# library the binary needs, directly or not, is in one of them.
SSH_DEBS=(dropbear-bin libc6 libcrypt1 libtomcrypt1 libtommath1 libgmp10 zlib1g)
mkdir -p "$WORK/debs"
cd "$WORK/debs"
for pkg in "$kpkg:i386" busybox-static:i386 "${SSH_DEBS[@]/%/:i386}"; do
  name="${pkg%:i386}"
  if ! compgen -G "${name}_*_i386.deb" >/dev/null; then
    log "downloading $pkg"
    apt-get download "$pkg" 2> >(grep -v 'unsandboxed' >&2)
  fi
done
kdeb="$(ls "${kpkg}"_*_i386.deb | tail -1)"
bdeb="$(ls busybox-static_*_i386.deb | tail -1)"

rm -rf "$WORK/kernel" "$WORK/busybox" "$WORK/initramfs" "$WORK/fat" "$WORK/dropbear"
dpkg-deb -x "$kdeb" "$WORK/kernel"
dpkg-deb -x "$bdeb" "$WORK/busybox"
for name in "${SSH_DEBS[@]}"; do
  dpkg-deb -x "$(ls "${name}"_*_i386.deb | tail -1)" "$WORK/dropbear"
done
kver="$(ls "$WORK/kernel/lib/modules" | head -1)"
cp "$WORK/kernel/boot/vmlinuz-$kver" "$GUEST/vmlinuz"

# ---- initramfs -------------------------------------------------------------------------------
IR="$WORK/initramfs"
mkdir -p "$IR"/{bin,dev,etc,lib/modules,mnt,proc,sys,tmp}
cp "$WORK/busybox/bin/busybox" "$IR/bin/busybox"
# The benchmark's own programs (bench/guest/*.asm: raw i386 system calls, no libc), for vx86.bench.
for prog in pipe_pingpong touch64; do
  nasm -f elf32 -o "$WORK/$prog.o" "$ROOT/bench/guest/$prog.asm"
  ld -m elf_i386 -s -o "$IR/bin/$prog" "$WORK/$prog.o"
done

# ---- dropbear ------------------------------------------------------------------------------------
# The i386 dropbear, the shared libraries it needs (the NEEDED entries of its dynamic section,
# followed through each library's own) and its program interpreter, at the paths Debian puts them.
DB="$WORK/dropbear"
mkdir -p "$IR/sbin"
cp "$DB/usr/sbin/dropbear" "$IR/sbin/dropbear"
python3 - "$DB" "$IR" "$IR/sbin/dropbear" <<'EOF'
import os, re, shutil, subprocess, sys
tree, dest, binary = sys.argv[1:]
LIBDIRS = ['lib/i386-linux-gnu', 'usr/lib/i386-linux-gnu', 'lib', 'usr/lib']
def readelf(flag, path):
    return subprocess.run(['readelf', flag, '-W', path], check=True, capture_output=True, text=True).stdout
interp = re.search(r'Requesting program interpreter: (\S+)]', readelf('-l', binary)).group(1)
def resolve(rel):
    # Follows symbolic links inside the extracted tree (an absolute target means the guest's /).
    for _ in range(40):
        p = os.path.join(tree, rel)
        if not os.path.islink(p):
            return p
        t = os.readlink(p)
        rel = os.path.normpath(t.lstrip('/') if t.startswith('/') else os.path.join(os.path.dirname(rel), t))
    sys.exit(f'build-guest: too many symbolic links at {rel}')
def install(rel):
    out = os.path.join(dest, rel)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    shutil.copyfile(resolve(rel), out)   # the file itself, under the name asked for
    os.chmod(out, 0o755)
    return out
install(interp.lstrip('/'))
todo, done = [binary], set()
while todo:
    for lib in re.findall(r'\(NEEDED\)\s+Shared library: \[([^\]]+)\]', readelf('-d', todo.pop())):
        if lib in done:
            continue
        done.add(lib)
        rel = next((os.path.join(d, lib) for d in LIBDIRS if os.path.lexists(os.path.join(tree, d, lib))), None)
        if rel is None:
            sys.exit(f'build-guest: dropbear needs {lib}, which none of the downloaded packages has')
        todo.append(install(rel))
print('build-guest: dropbear: interpreter', interp, 'libraries', ' '.join(sorted(done)), file=sys.stderr)
EOF

# Keys, made once and kept in guest/ssh/ (so the initramfs is the same from run to run): the
# guest's ed25519 host key in dropbear's format, and the client key pair the tests log in with.
SSH_DIR="$GUEST/ssh"
mkdir -p "$SSH_DIR"
if [[ ! -s "$SSH_DIR/dropbear_ed25519_host_key" ]]; then
  rm -f "$SSH_DIR/dropbear_ed25519_host_key"
  dropbearkey -t ed25519 -f "$SSH_DIR/dropbear_ed25519_host_key" >/dev/null
fi
if [[ ! -s "$SSH_DIR/id_ed25519" || ! -s "$SSH_DIR/id_ed25519.pub" ]]; then
  rm -f "$SSH_DIR/id_ed25519" "$SSH_DIR/id_ed25519.pub"
  ssh-keygen -q -t ed25519 -N '' -C vx86-guest-test -f "$SSH_DIR/id_ed25519"
fi
chmod 600 "$SSH_DIR/id_ed25519" "$SSH_DIR/dropbear_ed25519_host_key"
mkdir -p "$IR/etc/dropbear" "$IR/root/.ssh"
cp "$SSH_DIR/dropbear_ed25519_host_key" "$IR/etc/dropbear/"
cp "$SSH_DIR/id_ed25519.pub" "$IR/root/.ssh/authorized_keys"
chmod 700 "$IR/root" "$IR/root/.ssh" "$IR/etc/dropbear"
chmod 600 "$IR/etc/dropbear/dropbear_ed25519_host_key" "$IR/root/.ssh/authorized_keys"
# root with a shell, logging in by key only (no password: no shadow entry, and dropbear -s).
echo 'root:x:0:0:root:/root:/bin/sh' > "$IR/etc/passwd"
echo 'root:x:0:' > "$IR/etc/group"
echo '/bin/sh' > "$IR/etc/shells"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' > "$IR/etc/nsswitch.conf"

# Disk and network drivers with their dependencies, in load order (read from each module's .modinfo).
# The framebuffer driver (bochs DRM, for vx86.fb) is copied too but loaded only by that mode.
for list in "load-order:crct10dif_generic crc64_rocksoft_generic ata_piix sd_mod vfat nls_cp437 nls_ascii e1000 button evdev psmouse virtio_pci virtio_blk virtio_net" \
  "load-order-fb:bochs"; do
python3 - "$WORK/kernel/lib/modules/$kver" "$IR/lib/modules" "${list%%:*}" ${list#*:} <<'EOF'
import os, shutil, sys
tree, dest, listname, wanted = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
paths = {}
for d, _, files in os.walk(tree):
    for f in files:
        if f.endswith('.ko'):
            paths[f[:-3].replace('-', '_')] = os.path.join(d, f)
def depends(name):
    data = open(paths[name], 'rb').read()
    i = data.find(b'\0depends=')
    if i < 0: return []
    v = data[i + 9:data.index(b'\0', i + 1)].decode()
    return [x.replace('-', '_') for x in v.split(',') if x]
order = []
def visit(n):
    if n in order or n not in paths: return   # absent: built in
    for d in depends(n): visit(d)
    order.append(n)
for w in wanted: visit(w)
with open(os.path.join(dest, listname), 'w') as f:
    for n in order:
        shutil.copy(paths[n], os.path.join(dest, n + '.ko'))
        f.write(n + '.ko\n')
print('build-guest: %s:' % listname, ' '.join(order), file=sys.stderr)
EOF
done

cat > "$IR/init" <<'EOF'
#!/bin/busybox sh
# vx86 test guest. Markers for the tests: VX86-GUEST-UP, VX86-SHA256, VX86-DISK, VX86-GUEST-DONE.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
echo "VX86-GUEST-UP"
uname -a
head -n 8 /proc/cpuinfo
dd if=/dev/zero bs=1k count=1024 2>/dev/null | tr '\0' 'x' > /tmp/f
echo "VX86-SHA256 $(sha256sum /tmp/f | cut -d' ' -f1)"
# Every CPU: the count Linux brought up, and the same sha256 computed by a process pinned to each
# (field 39 of /proc/self/stat: the CPU `cut` itself ran on).
n=$(nproc)
echo "VX86-CPUS $n $(grep -c '^processor' /proc/cpuinfo)"
c=0
while [ $c -lt $n ]; do
  taskset -c $c sh -c "echo VX86-CPU $c ran-on \$(cut -d' ' -f39 /proc/self/stat) \$(sha256sum /tmp/f | cut -d' ' -f1)" &
  c=$((c + 1))
done
wait
if grep -q 'vx86.sleep' /proc/cmdline; then
  # Timekeeping (tests/guest/linux_sleep.py): the clocksource, the TSC rate Linux measured, and a
  # 5-second sleep that the host times by these lines.
  echo "VX86-CLOCK $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" \
    "$(grep -m1 'cpu MHz' /proc/cpuinfo | tr -s '\t ' ' ')"
  echo "VX86-SLEEP-BEGIN"
  sleep 5
  echo "VX86-SLEEP-END"
  echo "VX86-GUEST-DONE"
  poweroff -f
fi
if grep -q 'vx86.bench' /proc/cmdline; then
  # In-guest workloads for scripts/bench-guest.py, which times them from the host by these lines.
  dd if=/dev/zero bs=1k count=8192 2>/dev/null | tr '\0' 'y' > /tmp/big
  cat /bin/busybox /bin/busybox /bin/busybox > /tmp/bb
  echo "VX86-BENCH-BEGIN sha256"
  sha256sum /tmp/big > /dev/null
  echo "VX86-BENCH-END sha256"
  # Two processes at once, 32 MiB each: what several CPUs (on host threads) speed up.
  echo "VX86-BENCH-BEGIN sha256x2"
  sha256sum /tmp/big /tmp/big /tmp/big /tmp/big > /dev/null &
  sha256sum /tmp/big /tmp/big /tmp/big /tmp/big > /dev/null &
  wait
  echo "VX86-BENCH-END sha256x2"
  echo "VX86-BENCH-BEGIN gzip"
  gzip -6 -c /tmp/bb > /dev/null
  echo "VX86-BENCH-END gzip"
  echo "VX86-BENCH-BEGIN spawn1000"
  i=0
  while [ $i -lt 1000 ]; do /bin/true; i=$((i + 1)); done
  echo "VX86-BENCH-END spawn1000"
  # 100,000 pipe round trips between two processes; 64 MiB of fresh anonymous memory touched, twice.
  echo "VX86-BENCH-BEGIN pipe"
  /bin/pipe_pingpong || echo "VX86-BENCH-FAILED pipe"
  echo "VX86-BENCH-END pipe"
  echo "VX86-BENCH-BEGIN fault64"
  /bin/touch64 || echo "VX86-BENCH-FAILED fault64"
  echo "VX86-BENCH-END fault64"
  echo "VX86-GUEST-DONE"
  poweroff -f
fi
# Module options from the kernel command line (NAME.OPTION=VALUE, e.g. virtio_pci.force_legacy=1),
# as modprobe would pass them: the kernel applies those itself only to built-in code.
for m in $(cat /lib/modules/load-order); do
  insmod /lib/modules/$m $(tr ' ' '\n' < /proc/cmdline | sed -n "s/^${m%.ko}\.//p") 2>/dev/null
done
if grep -q 'vx86.input' /proc/cmdline; then
  # The display window's input (tests/display/window_test.py): a banner on the VGA console (tty1)
  # with its cursor hidden; then the first mouse packets from /dev/input/mice, and every line
  # typed on the keyboard, each echoed on the serial port.
  printf '\033[2J\033[H\033[?25lVX86 INPUT TEST: type here\n' > /dev/tty1
  (echo "VX86-MOUSE $(dd if=/dev/input/mice bs=3 count=4 2>/dev/null | od -An -v -tx1 | tr -s ' \n' ' ')") &
  echo "VX86-INPUT-READY"
  while read -r line < /dev/tty1; do echo "VX86-KEY $line"; done
fi
if grep -q 'vx86.fb' /proc/cmdline; then
  # Linux's framebuffer console on the bochs DRM driver (tests/display/linux_fb_test.py): known
  # text on tty1 with the cursor hidden, then the host takes a screendump.
  for m in $(cat /lib/modules/load-order-fb); do insmod /lib/modules/$m 2>/dev/null; done
  i=0
  while [ ! -e /dev/fb0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  printf '\033[2J\033[H\033[?25l' > /dev/tty1
  echo "VX86 FRAMEBUFFER CONSOLE" > /dev/tty1
  echo "fb0: $(cat /sys/class/graphics/fb0/name) $(cat /sys/class/graphics/fb0/virtual_size)" > /dev/tty1
  echo "VX86-FB $(cat /sys/class/graphics/fb0/name) $(cat /sys/class/graphics/fb0/virtual_size)"
  echo "VX86-FB-READY"
  while true; do sleep 60; done
fi
i=0
while [ ! -b /dev/sda1 ] && [ ! -b /dev/vda1 ] && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
if grep -q 'vx86.acpid' /proc/cmdline; then
  # The ACPI power button (QMP system_powerdown): busybox acpid reads the button's input events and
  # runs /etc/acpi/PWRF/00000080, which says so and powers off.
  acpid -c /etc/acpi -l /tmp/acpid.log -p /tmp/acpid.pid
  echo "VX86-ACPID"
fi
if grep -q 'vx86.diskbench' /proc/cmdline; then
  # Disk I/O for scripts/bench-snapshot.py --disk and bench-guest.py --io, on a scratch disk
  # (vx86.diskdev=NAME, default sda; timed by these lines): sequential write (flushed) and read
  # (page cache dropped) of vx86.diskmb=N MiB (default 64), then, unless vx86.diskseq, 256 random
  # 4 KiB writes and reads with O_DIRECT, one dd each, and the same loop without the disk (the cost
  # of the dd processes themselves, which the host subtracts). vx86.diskdirect: the sequential
  # pair with O_DIRECT.
  dev=/dev/$(tr ' ' '\n' < /proc/cmdline | sed -n 's/^vx86\.diskdev=//p')
  [ "$dev" = /dev/ ] && dev=/dev/sda
  mb=$(tr ' ' '\n' < /proc/cmdline | sed -n 's/^vx86\.diskmb=//p')
  [ -n "$mb" ] || mb=64
  bench() {
    name=$1
    shift
    echo "VX86-BENCH-BEGIN $name"
    "$@"
    echo "VX86-BENCH-END $name"
  }
  seqw() { dd if=/dev/zero of=$dev bs=1M count=$mb conv=fsync 2>/dev/null; }
  seqr() { echo 3 > /proc/sys/vm/drop_caches; dd if=$dev of=/dev/null bs=1M count=$mb 2>/dev/null; }
  if grep -q 'vx86.diskdirect' /proc/cmdline; then
    # O_DIRECT: the device's path alone, without the guest's page cache copies.
    seqw() { dd if=/dev/zero of=$dev bs=1M count=$mb oflag=direct 2>/dev/null; }
    seqr() { dd if=$dev of=/dev/null bs=1M count=$mb iflag=direct 2>/dev/null; }
  fi
  loop() {
    i=0
    while [ $i -lt 256 ]; do
      off=$(( 16384 + (i * 7919) % 131072 ))
      case $1 in
        w) dd if=/dev/zero of=$dev bs=4k count=1 seek=$off oflag=direct conv=notrunc 2>/dev/null ;;
        r) dd if=$dev of=/dev/null bs=4k count=1 skip=$off iflag=direct 2>/dev/null ;;
        n) dd if=/dev/zero of=/dev/null bs=4k count=1 skip=$off 2>/dev/null ;;
      esac
      i=$((i + 1))
    done
  }
  bench seqwrite seqw
  bench seqread seqr
  if ! grep -q 'vx86.diskseq' /proc/cmdline; then
    bench randwrite loop w
    bench randread loop r
    bench randnone loop n
  fi
  echo "VX86-GUEST-DONE"
  poweroff -f
fi
if grep -q 'vx86.writeloop' /proc/cmdline; then
  # Random writes all over /dev/sda, each flushed, for ever: tests/guest/qcow2_kill.py kills vx86
  # in the middle of this and checks the qcow2 image.
  echo "VX86-WRITELOOP-BEGIN"
  i=0
  start=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
  while true; do
    dd if=/dev/urandom of=/dev/sda bs=64k count=8 seek=$(( (start + i * 7919) % 16000 )) conv=fsync 2>/dev/null
    i=$((i + 1))
    [ $((i % 8)) -eq 0 ] && echo "VX86-WRITELOOP $i"
  done
fi
if [ -b /dev/vda1 ] && mount -t vfat -o ro /dev/vda1 /mnt; then
  # A virtio disk (tests/guest/virtio_blk.py): HELLO.TXT, the serial the device reports, and when
  # the disk holds WRITE.ME, files written for the host to read back from the image.
  echo "VX86-DISK $(cat /mnt/HELLO.TXT)"
  echo "VX86-VDA-SERIAL $(cat /sys/block/vda/serial 2>/dev/null)"
  # Feature bit 32 (VIRTIO_F_VERSION_1) as negotiated: 1 on the modern interface, 0 on the legacy.
  echo "VX86-VDA-VERSION1 $(cut -c33 /sys/block/vda/device/features 2>/dev/null)"
  if [ -f /mnt/WRITE.ME ] && mount -o remount,rw /mnt; then
    cp /tmp/f /mnt/GUEST.BIN
    echo "written by $(uname -r)" > /mnt/GUEST.TXT
    sync
    echo "VX86-VDA-WRITTEN $(sha256sum /mnt/GUEST.BIN | cut -d' ' -f1)"
  fi
  umount /mnt
elif [ -b /dev/sda1 ] && mount -t vfat -o ro /dev/sda1 /mnt; then
  echo "VX86-DISK $(cat /mnt/HELLO.TXT)"
  umount /mnt
else
  echo "VX86-DISK none"
fi
# The value of vx86.NAME=VALUE on the kernel command line.
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^vx86\.$1=//p"; }
# eth0 (e1000) up by DHCP, or with vx86.ip=ADDR/N; prints VX86-NET ADDR/N via ROUTER.
net_up() {
  ip link set lo up
  i=0
  while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  ip link set eth0 up
  if [ -n "$(arg ip)" ]; then
    ip addr add "$(arg ip)" dev eth0
  else
    udhcpc -i eth0 -n -q -t 20 -T 1 -s /etc/udhcpc.script > /dev/null 2>&1
  fi
  echo "VX86-NET $(ip -4 -o addr show dev eth0 | sed -n 's/.* inet \([0-9./]*\).*/\1/p')" \
    "via $(ip route | sed -n 's/^default via \([0-9.]*\).*/\1/p')"
}
if grep -q 'vx86.sshd' /proc/cmdline; then
  # An SSH server (tests/guest/linux_ssh.py): eth0 as for vx86.net, devpts for the sessions'
  # terminals, Debian's dropbear on port 22 with the host key made at build time, root logging in
  # only with the key in /root/.ssh/authorized_keys (-s: no passwords). busybox poweroff (without
  # -f) signals init with SIGUSR2: this shell traps it, lets the SSH session end, and powers off.
  net_up
  mkdir -p /dev/pts
  mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
  trap 'echo "VX86-POWEROFF"; sleep 1; sync; poweroff -f' USR1 USR2 TERM
  if /sbin/dropbear -s -p 22 -r /etc/dropbear/dropbear_ed25519_host_key -P /tmp/dropbear.pid; then
    i=0
    while ! netstat -ltn 2>/dev/null | grep -q ':22 ' && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    if netstat -ltn 2>/dev/null | grep -q ':22 '; then echo "VX86-SSHD-READY"; else echo "VX86-SSHD-FAILED"; fi
  else
    echo "VX86-SSHD-FAILED"
  fi
  # Wait for the signal (a background sleep: the trap runs as soon as it arrives, not after it).
  while true; do sleep 60 & wait $!; done
fi
if grep -q 'vx86.net' /proc/cmdline; then
  # Networking (tests/guest/linux_net.py): eth0 (e1000) by DHCP, or vx86.ip=ADDR/N; a fetch from
  # the host (vx86.fetch=URL); a random file (vx86.blobkb=N KiB, default 256) served by httpd
  # (port 80) and nc (port 5000); a shell on port 2323 for the host; with vx86.peer=ADDR, a ping
  # of the peer and the peer's file through nc.
  net_up
  if [ -n "$(arg fetch)" ]; then
    if wget -q -O /tmp/fetched "$(arg fetch)"; then
      echo "VX86-FETCH $(sha256sum /tmp/fetched | cut -d' ' -f1)"
    else
      echo "VX86-FETCH failed"
    fi
  fi
  mkdir -p /srv
  kb="$(arg blobkb)"
  dd if=/dev/urandom of=/srv/blob bs=1k count="${kb:-256}" 2>/dev/null
  httpd -p 80 -h /srv
  (while true; do nc -l -p 5000 < /srv/blob; done) > /dev/null 2>&1 &
  mkfifo /tmp/shell
  (while true; do cat /tmp/shell | sh 2>&1 | nc -l -p 2323 > /tmp/shell; done) > /dev/null 2>&1 &
  echo "VX86-SERVE $(sha256sum /srv/blob | cut -d' ' -f1)"
  if grep -q 'vx86.netbench' /proc/cmdline; then
    # scripts/bench-guest.py --net: 64 MiB for the host to fetch, and a sink that counts what the
    # host sends to port 5002.
    dd if=/dev/zero of=/srv/big bs=1M count=64 2>/dev/null
    (while true; do echo "VX86-RECV $(nc -l -p 5002 | wc -c)"; done) &
  fi
  peer="$(arg peer)"
  if [ -n "$peer" ]; then
    if ping -c 3 -W 5 "$peer" > /tmp/ping 2>&1; then echo "VX86-PING ok"; else echo "VX86-PING failed"; fi
    i=0
    while [ $i -lt 30 ]; do
      nc -w 3 "$peer" 5000 > /tmp/peer 2>/dev/null
      [ -s /tmp/peer ] && break
      sleep 1
      i=$((i + 1))
    done
    echo "VX86-PEER $(sha256sum /tmp/peer | cut -d' ' -f1)"
  fi
  echo "VX86-NET-READY"
  # The host powers the guest off through the shell (or it stays up for a person to use).
  while true; do sleep 60; done
fi
echo "VX86-GUEST-DONE"
if grep -q 'vx86.shell' /proc/cmdline; then
  exec setsid cttyhack sh
fi
poweroff -f
EOF
# udhcpc's hook: the address, the default route and the DNS server from the lease.
cat > "$IR/etc/udhcpc.script" <<'EOF'
#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route add default via "${router%% *}" dev "$interface"
    [ -n "$dns" ] && echo "nameserver ${dns%% *}" > /etc/resolv.conf
    ;;
esac
exit 0
EOF
mkdir -p "$IR/etc/acpi/PWRF"
printf '#!/bin/sh\necho VX86-POWER-BUTTON > /dev/console\npoweroff -f\n' > "$IR/etc/acpi/PWRF/00000080"
chmod 755 "$IR/init" "$IR/bin/busybox" "$IR/etc/udhcpc.script" "$IR/etc/acpi/PWRF/00000080"

# newc cpio, written without root: every file owned by root, fixed times, and a /dev/console
# node (the kernel opens it for init before devtmpfs is mounted).
python3 - "$IR" "$GUEST/initramfs.cpio" <<'EOF'
import os, stat, sys
src, out = sys.argv[1], sys.argv[2]
entries = []
for d, dirs, files in os.walk(src):
    dirs.sort()
    for n in sorted(dirs + files):
        entries.append(os.path.relpath(os.path.join(d, n), src))
ino = 1
def header(name, mode, size, nlink=1, rmaj=0, rmin=0):
    global ino
    ino += 1
    fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rmaj, rmin, len(name) + 1, 0]
    h = b'070701' + b''.join(b'%08X' % f for f in fields) + name.encode() + b'\0'
    return h + b'\0' * (-len(h) % 4)
with open(out, 'wb') as f:
    for rel in sorted(entries):
        p = os.path.join(src, rel)
        st = os.lstat(p)
        perm = stat.S_IMODE(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            f.write(header(rel, stat.S_IFDIR | perm, 0, 2))
        elif stat.S_ISLNK(st.st_mode):
            t = os.readlink(p).encode()
            f.write(header(rel, stat.S_IFLNK | 0o777, len(t)) + t + b'\0' * (-len(t) % 4))
        else:
            data = open(p, 'rb').read()
            f.write(header(rel, stat.S_IFREG | perm, len(data)) + data + b'\0' * (-len(data) % 4))
    f.write(header('dev/console', stat.S_IFCHR | 0o600, 0, 1, 5, 1))
    f.write(header('TRAILER!!!', 0, 0))
EOF
gzip -9nf "$GUEST/initramfs.cpio"

# ---- disk image --------------------------------------------------------------------------------
DISK_MB=48
PART_START=2048                                   # sectors
PART_SECTORS=$((DISK_MB * 2048 - PART_START))
FAT="$WORK/fat.img"
echo "Hello from the vx86 guest disk." > "$WORK/HELLO.TXT"
cat > "$WORK/syslinux.cfg" <<'EOF'
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=ttyS0,115200
EOF
rm -f "$FAT"
truncate -s $((PART_SECTORS * 512)) "$FAT"
# -h: hidden sectors = the partition's start, so the boot sector finds itself on the disk.
mkfs.vfat -F 16 -n VX86GUEST -h "$PART_START" -i 56583836 "$FAT" >/dev/null
syslinux --install "$FAT"
export MTOOLS_SKIP_CHECK=1
mcopy -o -i "$FAT" "$GUEST/vmlinuz" ::/vmlinuz
mcopy -o -i "$FAT" "$GUEST/initramfs.cpio.gz" ::/initrd.gz
mcopy -o -i "$FAT" "$WORK/syslinux.cfg" ::/syslinux.cfg
mcopy -o -i "$FAT" "$WORK/HELLO.TXT" ::/HELLO.TXT

DISK="$GUEST/disk.img"
rm -f "$DISK"
truncate -s $((DISK_MB * 1024 * 1024)) "$DISK"
echo "start=$PART_START, size=$PART_SECTORS, type=6, bootable" | sfdisk -q --label dos "$DISK"
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$DISK" bs=440 count=1 conv=notrunc status=none
dd if="$FAT" of="$DISK" bs=512 seek="$PART_START" conv=notrunc status=none
rm -f "$FAT"

# A bootable CD: isolinux (El Torito, no emulation) loading the same kernel and initramfs.
ISO_ROOT="$WORK/iso"
rm -rf "$ISO_ROOT"
mkdir -p "$ISO_ROOT/isolinux"
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$ISO_ROOT/isolinux/"
cp "$GUEST/vmlinuz" "$ISO_ROOT/vmlinuz"
cp "$GUEST/initramfs.cpio.gz" "$ISO_ROOT/initrd.gz"
printf 'SERIAL 0 115200\nDEFAULT linux\nLABEL linux\n  KERNEL /vmlinuz\n  APPEND initrd=/initrd.gz console=ttyS0\n' \
  > "$ISO_ROOT/isolinux/isolinux.cfg"
genisoimage -quiet -o "$GUEST/cdrom.iso" -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot \
  -boot-load-size 4 -boot-info-table -R -J "$ISO_ROOT"

# What the guest must print, for the boot tests.
sha="$(head -c 1048576 /dev/zero | tr '\0' 'x' | sha256sum | cut -d' ' -f1)"
{
  echo "kernel=$kpkg"
  echo "VX86-SHA256 $sha"
  echo "VX86-DISK $(cat "$WORK/HELLO.TXT")"
} > "$GUEST/expected.txt"
log "built $GUEST/vmlinuz, initramfs.cpio.gz ($(stat -c %s "$GUEST/initramfs.cpio.gz") bytes), disk.img (${DISK_MB} MiB), cdrom.iso"

# ---- validation in QEMU (TCG) --------------------------------------------------------------------
# Prints the seconds from start to the VX86-GUEST-UP line and to QEMU's exit.
run_qemu() {
  local name="$1"; shift
  local out="$WORK/qemu-$name.log"
  local t0 t_up="" rc
  t0=$(date +%s.%N)
  timeout 300 qemu-system-i386 -accel tcg -nographic -no-reboot -m 256 "$@" > "$out" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if [[ -z "$t_up" ]] && grep -q VX86-GUEST-UP "$out"; then t_up=$(date +%s.%N); fi
    sleep 0.1
  done
  wait "$pid" && rc=0 || rc=$?
  local t_end; t_end=$(date +%s.%N)
  [[ -z "$t_up" ]] && grep -q VX86-GUEST-UP "$out" && t_up=$t_end
  if [[ -z "$t_up" ]] || ! grep -q VX86-GUEST-DONE "$out"; then
    log "qemu $name: FAILED (exit $rc), see $out"; return 1
  fi
  grep -E '^VX86-(SHA256|DISK)' "$out" | tr -d '\r' | sed "s/^/build-guest: qemu $name: /" >&2
  printf 'build-guest: qemu %s: marker after %.1f s, powered off after %.1f s\n' "$name" \
    "$(echo "$t_up - $t0" | bc -l 2>/dev/null || python3 -c "print($t_up - $t0)")" \
    "$(python3 -c "print($t_end - $t0)")" >&2
}
if ((VALIDATE)); then
  run_qemu kernel -kernel "$GUEST/vmlinuz" -initrd "$GUEST/initramfs.cpio.gz" -append "console=ttyS0"
  run_qemu disk -drive file="$DISK",format=raw,if=ide,snapshot=on
  for n in kernel disk; do
    grep -q "$(sed -n 2p "$GUEST/expected.txt")" "$WORK/qemu-$n.log" || { log "qemu $n: wrong sha256"; exit 1; }
  done
  grep -q "$(sed -n 3p "$GUEST/expected.txt")" "$WORK/qemu-disk.log" || { log "qemu disk: HELLO.TXT not read"; exit 1; }
fi
