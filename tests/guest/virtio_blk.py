#!/usr/bin/env python3
"""SeaBIOS boots the Debian guest from a virtio-blk disk and Linux writes to it.

A copy of guest/disk.img gets WRITE.ME on its FAT partition (mtools); vx86 boots it with SeaBIOS
from virtio-blk (SeaBIOS's virtio driver -> syslinux MBR -> syslinux -> Linux); Linux's virtio_pci
and virtio_blk find /dev/vda, the guest's /init mounts /dev/vda1, prints HELLO.TXT and the serial
the device reports, and because WRITE.ME is there, remounts it read-write, writes GUEST.BIN (1 MiB
of 'x', the file it hashed) and GUEST.TXT, and unmounts before powering off. The host then reads
both files out of the image with mtools and checks them and the filesystem (fsck.fat -n).
Twice: a raw image as -drive if=virtio beside the default e1000 (slot 00:04.0), and a qcow2 image
as -drive if=none + -device virtio-blk-pci without a NIC (slot 00:03.0), converted back to raw
with qemu-img for the checks.

usage: virtio_blk.py VX86 GUEST_DIR WORKDIR     (exit 77: skipped)"""
import hashlib
import os
import shutil
import subprocess
import sys

vx86, guest, work = sys.argv[1:4]
base, expected = os.path.join(guest, "disk.img"), os.path.join(guest, "expected.txt")
tools = ["mcopy", "fsck.fat", "qemu-img"]
if not all(os.path.exists(p) for p in (base, expected)) or not all(shutil.which(t) for t in tools):
    print("SKIP: no guest (scripts/build-guest.sh) or no %s" % ", ".join(tools))
    sys.exit(77)
os.makedirs(work, exist_ok=True)
PART = 2048 * 512  # the FAT partition's offset (scripts/build-guest.sh)
exp = dict(l.split("=", 1) for l in open(expected).read().splitlines() if l.startswith("kernel="))
kernel_release = exp["kernel"].replace("linux-image-", "")
hello = [l for l in open(expected).read().splitlines() if l.startswith("VX86-DISK ")][0]
payload = b"x" * (1 << 20)  # what the guest writes: /tmp/f, 1 MiB of 'x'
payload_sha = hashlib.sha256(payload).hexdigest()
failures = []


def mread(image, name):
    r = subprocess.run(["mcopy", "-n", "-i", "%s@@%d" % (image, PART), "::/" + name, "-"], capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("mcopy %s: %s" % (name, r.stderr.decode().strip()))
    return r.stdout


def boot(name, args, image_for_checks, convert_from=None):
    console, bioslog = (os.path.join(work, "%s-%s.txt" % (name, k)) for k in ("serial", "bios"))
    for f in (console, bioslog):
        if os.path.exists(f):
            os.unlink(f)
    r = subprocess.run([vx86, "-m", "256", "-serial", "file:" + console, "-bioslog", "file:" + bioslog,
                        "-no-reboot", "-timeout", "240"] + args, capture_output=True, text=True, timeout=300)
    text = open(console, errors="replace").read() if os.path.exists(console) else ""
    bios = open(bioslog, errors="replace").read() if os.path.exists(bioslog) else ""
    serial_name = "VX86VIRTIO-" + name
    want = ["VX86-GUEST-UP", hello, "VX86-VDA-SERIAL " + serial_name, "VX86-VDA-WRITTEN " + payload_sha,
            "VX86-VDA-VERSION1 1",
            "VX86-GUEST-DONE", "reboot: Power down", "virtio_blk virtio0: [vda]"]
    missing = [w for w in want if w not in text]
    if "found virtio-blk" not in bios or "Booting from Hard Disk" not in bios:
        missing.append("SeaBIOS booting from virtio-blk (bios log)")
    if missing or r.returncode != 0:
        failures.append("%s: vx86 status %d, missing %s; stderr: %s\n--- serial tail ---\n%s" %
                        (name, r.returncode, missing, r.stderr.strip(), text[-3000:]))
        return
    if convert_from:
        chk = subprocess.run(["qemu-img", "check", convert_from], capture_output=True, text=True)
        if chk.returncode != 0:
            failures.append("%s: qemu-img check: %s" % (name, chk.stdout + chk.stderr))
        subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", convert_from, image_for_checks],
                       check=True)
    got = mread(image_for_checks, "GUEST.BIN")
    if got != payload:
        failures.append("%s: GUEST.BIN on the host: %d bytes, sha256 %s (want 1 MiB of 'x')" %
                        (name, len(got), hashlib.sha256(got).hexdigest()))
    txt = mread(image_for_checks, "GUEST.TXT").decode(errors="replace").strip()
    if txt != "written by " + kernel_release:
        failures.append("%s: GUEST.TXT is %r" % (name, txt))
    # The FAT the guest left behind is consistent (it unmounted before powering off).
    part = os.path.join(work, name + "-part.img")
    with open(image_for_checks, "rb") as f, open(part, "wb") as p:
        f.seek(PART)
        p.write(f.read())
    fsck = subprocess.run(["fsck.fat", "-n", part], capture_output=True, text=True)
    if fsck.returncode != 0:
        failures.append("%s: fsck.fat -n: %s" % (name, fsck.stdout + fsck.stderr))
    os.unlink(part)
    print("%s: booted from virtio-blk, the guest's files read back on the host" % name)


def prepare(path):
    shutil.copyfile(base, path)
    marker = os.path.join(work, "WRITE.ME")
    open(marker, "w").write("the guest writes GUEST.BIN and GUEST.TXT here\n")
    subprocess.run(["mcopy", "-o", "-i", "%s@@%d" % (path, PART), marker, "::/WRITE.ME"], check=True)


raw = os.path.join(work, "virtio-raw.img")
prepare(raw)
boot("raw", ["-drive", "file=%s,if=virtio,format=raw,serial=VX86VIRTIO-raw" % raw], raw)

qcow = os.path.join(work, "virtio.qcow2")
src = os.path.join(work, "virtio-src.img")
prepare(src)
if os.path.exists(qcow):
    os.unlink(qcow)
subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", src, qcow], check=True)
os.unlink(src)
back = os.path.join(work, "virtio-qcow2-back.img")
boot("qcow2", ["-net", "none", "-drive", "id=vd0,file=%s,if=none,format=qcow2" % qcow,
               "-device", "virtio-blk-pci,drive=vd0,serial=VX86VIRTIO-qcow2"], back, convert_from=qcow)

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("virtio-blk: SeaBIOS boot, Linux read-write, host read-back: raw and qcow2")
