"""What the gdb tests share: a free TCP port, Debian's gdb in batch mode against vx86's stub, and
the registers gdb's `info registers` printed."""
import re
import socket
import subprocess


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_gdb(port, commands, timeout=60):
    """gdb -batch on 127.0.0.1:PORT with `commands` (-ex each); stdout and stderr together."""
    args = ["gdb", "-batch", "-nx", "-ex", "set architecture i386", "-ex", f"target remote 127.0.0.1:{port}"]
    for c in commands:
        args += ["-ex", c]
    r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    return r.stdout + r.stderr


def registers(text):
    """{name: hex value} of the general and segment registers in `info registers` output."""
    return dict(re.findall(r"^(e[a-z]{2}|eflags|[cdefgs]s)\s+(0x[0-9a-f]+)", text, re.M))
