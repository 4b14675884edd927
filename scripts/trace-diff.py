#!/usr/bin/env python3
"""Runs vx86 twice with -d trace (and -d in_asm), once with -jit off and once with -jit on, and
names the first block boundary where the two states differ, with both states and the disassembly
of the block that led there. Exit status: 0 = identical traces, 1 = a divergence, 2 = error.

usage: scripts/trace-diff.py [--vx86 build/vx86] [--keep DIR] [--require FILE]
                            [--a "ARGS" --b "ARGS"] -- VX86-ARGS...
   or: scripts/trace-diff.py --logs A.log B.log   (compare two existing logs)
Existing logs may hold -d trace lines ("T ...": registers per block), -d exec lines ("E count
CS:EIP disassembly": one per instruction) or both, e.g. from two hosts, two versions of vx86 or
two runs under -icount; the first line that differs is named, with the code that led there
(from "IN:" or "E" lines).
--a and --b replace the two runs' own arguments ("-jit off" and "-jit on"), e.g. --a "-mmu tlb"
--b "-mmu shadow" compares the two MMU schemes.
--sum compares -d tracesum logs instead: the same state folded into a hash per 2^20 blocks ("S
icount hash"), fast enough for whole runs of billions of blocks; at a difference, the span of
instructions that hash covers runs again with the full trace (-dstart, -insn-limit), which names
the block.
Without --keep the logs go through named pipes and never reach the disk; use -insn-limit N (with
-icount) to bound the runs.
"""
import argparse
import os
import shlex
import subprocess
import sys
import tempfile

FIELDS = ["icount", "EAX", "ECX", "EDX", "EBX", "ESP", "EBP", "ESI", "EDI", "lin", "eip", "efl",
          "ES", "CS", "SS", "DS", "FS", "GS", "cr0", "cr3"]


def read_trace(path, blocks, recent):
    """Yields the trace lines' fields ("T" lines: the registers; "E" lines: "E", count, CS:EIP and
    the disassembly); fills `blocks` (linear address -> latest disassembly, from runs of "IN:"
    lines) and `recent` (the last "E" lines) as it goes. Streams: logs of whole boots are
    gigabytes."""
    current = None
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("IN:"):
                if current is None:
                    current = []
                    if blocks is not None and "(lin " in line:
                        blocks[int(line.split("(lin ")[1].split(")")[0], 16)] = current
                current.append(line.rstrip())
                continue
            current = None
            if line.startswith("T "):
                yield line.split()[1:]
            elif line.startswith("S "):
                yield ["S", *line.split()[1:]]
            elif line.startswith("E "):
                parts = line.rstrip("\n").split(None, 3)
                if recent is not None:
                    recent.append(line.rstrip())
                    del recent[:-16]
                yield ["E", parts[1], parts[2], parts[3] if len(parts) > 3 else ""]


def describe(fields):
    if fields[0] == "S":
        return f"hash {fields[2]} of the blocks up to instruction {fields[1]}" if len(fields) > 2 else "end"
    if fields[0] == "E":
        return f"instruction {fields[1]} at {fields[2]}: {fields[3]}"
    return " ".join(f"{n}={v.split('=')[-1]}" for n, v in zip(FIELDS, fields))


def compare(a_path, b_path, a_name="jit off", b_name="jit on", span=None):
    """Names the first difference of two logs; 0 identical, 1 different, 2 empty. For hash lines,
    `span` (a dict) gets the instruction counts the differing hash covers ("from", "to")."""
    blocks, recent = {}, []
    a_iter, b_iter = read_trace(a_path, blocks, recent), read_trace(b_path, None, None)
    prev, k = None, 0
    while True:
        a, b = next(a_iter, None), next(b_iter, None)
        if a is None or b is None:
            if a is None and b is None:
                if k == 0:
                    print("trace-diff: both traces are empty (did vx86 start?)")
                    return 2
                print(f"trace-diff: identical, {k} {'hashes' if prev and prev[0] == 'S' else 'blocks'}")
                return 0
            print(f"trace-diff: identical for {k} blocks, then the {a_name if a is None else b_name} trace ends")
            return 1
        if a != b:
            if a[0] == "S" or b[0] == "S":
                since = f"instruction {prev[1]}" if prev else "the start"
                print(f"trace-diff: first divergence in the blocks from {since} to the next hash (hash {k})")
                print(f"  {a_name}: {describe(a)}")
                print(f"  {b_name}: {describe(b)}")
                if span is not None and len(a) > 1 and a[1].isdigit():
                    span["from"], span["to"] = int(prev[1]) if prev else 0, int(a[1])
                return 1
            if a[0] == "E" or b[0] == "E":
                print(f"trace-diff: first divergence at line {k} of the trace")
                if recent[:-1]:
                    print(f"  the instructions before ({a_name}):")
                    for line in recent[:-1]:
                        print("    " + line)
                print(f"  {a_name}: {describe(a)}")
                print(f"  {b_name}: {describe(b)}")
                return 1
            diff = [FIELDS[j] for j in range(min(len(a), len(b))) if a[j] != b[j]]
            print(f"trace-diff: first divergence at block {k} (differs: {', '.join(diff)})")
            if prev and prev[0] != "E":
                print(f"  the block before: {describe(prev)}")
                lines = blocks.get(int(prev[9], 16), [])
                if lines:
                    print("  its code:")
                    for line in lines[:64]:
                        print("    " + line)
            print(f"  {a_name}: {describe(a)}")
            print(f"  {b_name}: {describe(b)}")
            return 1
        prev, k = a, k + 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vx86", default=os.path.join(os.path.dirname(__file__), "..", "build", "vx86"))
    p.add_argument("--logs", nargs=2, metavar="LOG")
    p.add_argument("--keep", help="write the two logs into this folder")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--require", action="append", default=[], metavar="FILE",
                   help="exit 77 (a skipped test) when FILE is missing, e.g. a guest image")
    p.add_argument("--a", default="-jit off", help="the first run's own arguments")
    p.add_argument("--b", default="-jit on", help="the second run's own arguments")
    p.add_argument("--sum", action="store_true", help="compare -d tracesum hashes, not every block")
    p.add_argument("args", nargs="*")
    o = p.parse_args()
    if o.logs:
        return compare(*o.logs, a_name=o.logs[0], b_name=o.logs[1])
    if not o.args:
        p.error("give the vx86 arguments after --")
    missing = [f for f in o.require if not os.path.exists(f)]
    if missing:
        print(f"trace-diff: skipped, {missing[0]} is missing")
        return 77
    r, span = run_and_compare(o, [], "tracesum" if o.sum else "trace,in_asm")
    if r == 1 and span:
        # The hashes name a span of about 2^20 blocks: run it again with the full trace.
        print(f"trace-diff: the span again block by block (-dstart {span['from']} -insn-limit {span['to'] + 1}):")
        run_and_compare(o, ["-dstart", str(span["from"]), "-insn-limit", str(span["to"] + 1)], "trace,in_asm",
                        "span")
    return r


def run_and_compare(o, extra, items, keep_sub=""):
    """Runs the two vx86 commands with `extra` arguments and `-d items`, compares their logs;
    returns compare()'s status and, for hashes, the span of the first difference. (--keep: the
    logs go into that folder, or its `keep_sub` subfolder.)"""
    span = {}
    # The two runs write their logs into named pipes that are compared as they come: a whole
    # boot's trace is hundreds of gigabytes, which must never reach the disk. --keep writes files.
    out = os.path.join(o.keep, keep_sub) if o.keep else tempfile.mkdtemp(prefix="trace-diff-")
    os.makedirs(out, exist_ok=True)
    logs, procs = [], []
    # The JIT run's stderr: a block the assembler rejected runs interpreted (identical traces),
    # but is a translator bug all the same.
    jit_err = tempfile.TemporaryFile()
    for mode, own in (("a", o.a), ("b", o.b)):
        log = os.path.join(out, f"run-{mode}.log")
        if not o.keep:
            os.mkfifo(log)
        cmd = [o.vx86, *o.args, *extra, *shlex.split(own), "-d", items, "-D", log]
        procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=jit_err if mode == "b" else subprocess.DEVNULL))
        logs.append(log)
    if o.keep:
        for p in procs:
            try:
                p.wait(timeout=o.timeout)
            except subprocess.TimeoutExpired:
                p.kill()
    try:
        r = compare(*logs, a_name=o.a, b_name=o.b, span=span)
        if r == 0:  # both traces ended: the runs are over (after a divergence they are killed)
            procs[1].wait(timeout=o.timeout)
        jit_err.seek(0)
        for line in jit_err.read().decode(errors="replace").splitlines():
            if "jit: cannot encode" in line:
                print(f"trace-diff: the JIT run reported: {line}")
                r = 1
    finally:
        for p in procs:
            p.kill()
            p.wait()
        if not o.keep:
            for log in logs:
                os.unlink(log)
            os.rmdir(out)
    return r, span


if __name__ == "__main__":
    sys.exit(main())
