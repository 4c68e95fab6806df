# SPDX-License-Identifier: MIT
"""What the Python test scripts share: counting checks, running a test
function so that a crash is one failure rather than the end of the suite,
small file helpers, and the closing "N passed, N failed" line."""
import http.server
import os
import sys
import threading
import traceback

failures = []
checks = 0


def check(name, cond, detail=""):
    """Records one check; prints "ok NAME" or "FAIL NAME: detail"."""
    global checks
    checks += 1
    if not cond:
        failures.append(f"{name}: {detail}")
        print(f"FAIL {name}: {detail}")
    else:
        print(f"ok   {name}")
    return cond


def run_test(fn):
    try:
        fn()
    except Exception as e:  # a crash in one test is a failure, not the end of the suite
        check(fn.__name__, False, f"exception: {e!r}\n{traceback.format_exc()[-1500:]}")


def show(p):
    """A completed process, for a failure's detail."""
    return f"exit {p.returncode}\nstdout: {p.stdout[-1500:]}\nstderr: {p.stderr[-1500:]}"


def write(path, text, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    if mode is not None:
        os.chmod(path, mode)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def finish(suite, suffix=""):
    """Prints "SUITE: N passed, N failed[SUFFIX]" and exits 1 on any failure."""
    print(f"{suite}: {checks - len(failures)} passed, {len(failures)} failed{suffix}")
    sys.exit(1 if failures else 0)


def partition_table(disk):
    """sfdisk's JSON view of a raw disk's partition table, or None."""
    import json
    import subprocess
    p = subprocess.run(["sfdisk", "--json", disk], capture_output=True, env=dict(os.environ, LC_ALL="C"))
    return json.loads(p.stdout)["partitiontable"] if p.returncode == 0 else None


def extract_partition(disk, part, dest):
    """Copies one partition (an entry of partition_table()) of a raw disk into its own file."""
    with open(disk, "rb") as f, open(dest, "wb") as o:
        f.seek(part["start"] * 512)
        left = part["size"] * 512
        while left:
            b = f.read(min(left, 1 << 20))
            if not b:
                break
            o.write(b)
            left -= len(b)


class RecordingServer:
    """An HTTP server on 127.0.0.1 (a free port) that records the paths it
    is asked for: what a sandboxed build or scriptlet must not reach."""

    def __init__(self):
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"reached\n")

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
