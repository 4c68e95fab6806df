#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""How fast jobs can be submitted to Slurm (issue 17: slipway submits one job
per build, thousands at once). On the one-node cluster of
tests/services/cluster.py, measures:
  1. one `sbatch --parsable --hold --wrap true` (median of N calls)
  2. the same with --dependency=afterok:<id>:<id> on two held jobs
  3. the throughput of 1, 2, 4 and 8 concurrent sbatch processes (each
     submitting JOBS held jobs one after another), in jobs per second
All jobs are held and cancelled afterwards: nothing runs.

Usage: bench/sbatch.py [N [JOBS]]   (defaults 50 and 500)"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "services"))
import cluster  # noqa: E402


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    ok, why = cluster.available()
    if not ok:
        print(f"SKIP: {why}")
        return 77
    with tempfile.TemporaryDirectory(prefix="slipway-sbatch-") as tmp:
        c = cluster.Cluster(os.path.join(tmp, "c"))
        c.start()
        try:
            base = ["sbatch", "--parsable", "--hold", f"--chdir={tmp}", "-o", "/dev/null"]

            def one(*extra):
                t = time.perf_counter()
                p = c.run(*base, *extra, "--wrap", "true")
                dt = time.perf_counter() - t
                if p.returncode != 0:
                    raise RuntimeError(p.stderr)
                return dt, p.stdout.strip()

            one()  # warm the page cache
            times = [one()[0] for _ in range(n)]
            print(f"sbatch --hold: median {statistics.median(times) * 1000:.1f} ms "
                  f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}, n={n})")
            _, a = one()
            _, b = one()
            times = [one(f"--dependency=afterok:{a}:{b}")[0] for _ in range(n)]
            print(f"sbatch --hold --dependency=afterok:A:B: median "
                  f"{statistics.median(times) * 1000:.1f} ms "
                  f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}, n={n})")
            cancel_all(c)

            for k in (1, 2, 4, 8):
                script = ("for i in $(seq %d); do sbatch --parsable --hold --chdir=%s -o /dev/null "
                          "--wrap true >/dev/null || exit 1; done" % (jobs, tmp))
                t = time.perf_counter()
                procs = [subprocess.Popen(["bash", "-c", script], env=c.env) for _ in range(k)]
                rcs = [p.wait() for p in procs]
                dt = time.perf_counter() - t
                if any(rcs):
                    raise RuntimeError(f"sbatch failed: {rcs}")
                total = k * jobs
                print(f"{k} concurrent sbatch x {jobs} jobs: {total} in {dt:.2f} s = "
                      f"{total / dt:.0f} jobs/s")
                t = time.perf_counter()
                cancel_all(c)
                print(f"  scancel of {total}: {time.perf_counter() - t:.2f} s")
        finally:
            c.stop()
    return 0


def cancel_all(c):
    ids = c.run("squeue", "-h", "-t", "PENDING", "-o", "%i", timeout=120).stdout.split()
    for i in range(0, len(ids), 1000):
        c.run("scancel", *ids[i:i + 1000], timeout=120)


if __name__ == "__main__":
    sys.exit(main())
