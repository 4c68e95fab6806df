# SPDX-License-Identifier: MIT
"""A QEMU virtual machine driven over its serial console, for the boot tests
that log in (tests/boot/server_test.py).

    vm = VM(disk, fmt="raw", firmware="seabios", log="boot.log", ssh_port=2222)
    vm.expect(r"login: ", timeout=300)
    vm.send("root")
    ...
    vm.stop()

QEMU runs under TCG with its first serial port on standard input and output
(-nographic, no monitor); everything it prints is kept (vm.output) and
written to the log as it comes. User networking forwards 127.0.0.1:ssh_port
to the guest's port 22 when ssh_port is given.
"""
import os
import re
import shutil
import subprocess
import threading
import time

OVMF_CODE, OVMF_VARS = "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"


class Timeout(Exception):
    pass


class VM:
    def __init__(self, disk, fmt="raw", firmware="ovmf", log=None, ssh_port=None, memory=1024, drive_if="virtio",
                 cdrom=None, extra=(), snapshot=True, boot=None):
        args = ["qemu-system-x86_64", "-m", str(memory), "-nographic", "-monitor", "none", "-no-reboot",
                "-serial", "stdio"]
        if firmware == "ovmf":
            vars_fd = (log or disk) + ".vars.fd"
            shutil.copy(OVMF_VARS, vars_fd)
            args += ["-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                     "-drive", f"if=pflash,format=raw,file={vars_fd}"]
        if disk:
            args += ["-drive", f"file={disk},format={fmt},if={drive_if}" + (",snapshot=on" if snapshot else "")]
        if cdrom:
            args += ["-cdrom", cdrom]
        if boot:
            args += ["-boot", boot]
        if ssh_port:
            args += ["-nic", f"user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{ssh_port}-:22"]
        else:
            args += ["-nic", "none"]
        args += list(extra)
        self.log = open(log, "wb") if log else None
        self.output = b""
        self.pos = 0  # where expect() looks from
        self.lock = threading.Condition()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            data = os.read(self.proc.stdout.fileno(), 65536)
            with self.lock:
                if not data:
                    self.eof = True
                    self.lock.notify_all()
                    return
                self.output += data
                if self.log:
                    self.log.write(data)
                    self.log.flush()
                self.lock.notify_all()

    eof = False

    def expect(self, pattern, timeout=120):
        """Waits for the regular expression (bytes or str) in what the
        console printed since the last match; returns the match."""
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        end = time.monotonic() + timeout
        with self.lock:
            while True:
                m = rx.search(self.output, self.pos)
                if m:
                    self.pos = m.end()
                    return m
                left = end - time.monotonic()
                if left <= 0 or self.eof:
                    tail = self.output[-2000:].decode("utf-8", "replace")
                    raise Timeout(f"{'QEMU exited' if self.eof else f'{timeout} s passed'} waiting for "
                                  f"{rx.pattern!r}; the console's last lines:\n{tail}")
                self.lock.wait(min(left, 1.0))

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\r")
        self.proc.stdin.flush()

    def run(self, command, timeout=60):
        """Runs a shell command at a logged-in prompt; returns (status,
        output). The markers around the output are split by quotes on the
        command line, so that the console's echo of it does not match."""
        tag = f"{time.monotonic_ns():x}"
        self.send(f"echo '@@S''{tag}@@'; {command}; echo \"@@E\"'{tag}@@' $?")
        m = self.expect(re.compile(rf"@@S{tag}@@\r?\n(.*?)@@E{tag}@@ (\d+)".encode(), re.S), timeout)
        return int(m.group(2)), m.group(1).decode("utf-8", "replace").replace("\r", "")

    def seconds(self):
        return time.monotonic() - self.started

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.reader.join(5)
        if self.log:
            self.log.close()
