#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks tests/services/cluster.py against the real daemons: a job runs and
writes its file; a job whose afterok dependency failed is cancelled; squeue's
state and reason strings are the ones slipway reads; a job survives a slurmd
killed and restarted quickly, and is requeued when slurmd stays away long
enough for the node to be set DOWN; nginx takes a PUT and gives the bytes back.

Usage: cluster_selftest.py [SLIPWAY SOURCE_ROOT] (both unused). Exit 77 with
"SKIP: why" where the cluster cannot run."""
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from harness import check, finish, run_test  # noqa: E402
import cluster  # noqa: E402

C = None
BASE = None


def sbatch(*args):
    p = C.run("sbatch", "--parsable", f"--chdir={BASE}", "-o", f"{BASE}/out/%j.out", *args)
    if p.returncode != 0:
        raise RuntimeError(f"sbatch {args}: {p.stderr}")
    return p.stdout.strip().split(";")[0]


def states():
    """{job id: (state, reason)} from squeue --states=all."""
    p = C.run("squeue", "--states=all", "-h", "-o", "%i %T %r")
    out = {}
    for line in p.stdout.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3:
            out[parts[0]] = (parts[1], parts[2])
    return out


def wait_for(what, cond, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    raise RuntimeError(f"{what}: not within {timeout} s; squeue: {states()}, node: {C.node_state()}")


def job_field(job, field):
    p = C.run("scontrol", "show", "job", job)
    for word in p.stdout.split():
        if word.startswith(field + "="):
            return word.split("=", 1)[1]
    return None


def test_job_runs():
    f = os.path.join(BASE, "hi")
    job = sbatch("--wrap", f"echo hi > {f}")
    wait_for("the job's file", lambda: os.path.exists(f) and open(f).read() == "hi\n", 30)
    check("job_runs_file", open(f).read() == "hi\n")
    st = wait_for("COMPLETED", lambda: states().get(job, (None,))[0] == "COMPLETED" and states()[job], 30)
    print(f"  completed: {job} {st[0]} {st[1]}")
    check("job_runs_completed", st == ("COMPLETED", "None"), f"{st}")


def test_dependency_never_satisfied():
    a = sbatch("--wrap", "sleep 2; exit 3")
    b = sbatch(f"--dependency=afterok:{a}", "--kill-on-invalid-dep=yes", "--wrap", "true")
    seen = {}
    end = time.monotonic() + 60
    while time.monotonic() < end:
        s = states()
        for j, name in ((a, "A"), (b, "B")):
            if j in s:
                seen.setdefault(name, [])
                if not seen[name] or seen[name][-1] != s[j]:
                    seen[name].append(s[j])
        if s.get(b, ("",))[0] == "CANCELLED":
            break
        time.sleep(0.1)
    print(f"  A (exit 3) went through: {seen.get('A')}")
    print(f"  B (afterok:A) went through: {seen.get('B')}")
    check("dep_a_running", ("RUNNING", "None") in seen.get("A", []), f"{seen}")
    check("dep_a_failed", seen.get("A", [None])[-1] == ("FAILED", "NonZeroExitCode"), f"{seen}")
    check("dep_b_pending", ("PENDING", "Dependency") in seen.get("B", []), f"{seen}")
    check("dep_b_cancelled", seen.get("B", [None])[-1] == ("CANCELLED", "DependencyNeverSatisfied"),
          f"{seen}")
    check("dep_a_exit_code", job_field(a, "ExitCode") == "3:0", job_field(a, "ExitCode"))


def test_held_and_cancelled():
    j = sbatch("--hold", "--wrap", "true")
    st = states().get(j)
    print(f"  held: {st}")
    check("held_pending", st == ("PENDING", "JobHeldUser"), f"{st}")
    C.run("scancel", j)
    st = wait_for("CANCELLED", lambda: states().get(j, (None,))[0] == "CANCELLED" and states()[j], 10)
    print(f"  scancelled while held: {st}")
    check("held_cancelled", st[0] == "CANCELLED", f"{st}")


def running(job):
    return states().get(job, (None,))[0] == "RUNNING"


def test_slurmd_killed_briefly():
    """slurmd killed (SIGKILL) for 2 s while a 20 s job runs: the job's
    slurmstepd carries on, the restarted slurmd takes the node back, and the
    job completes once, with its whole output."""
    log = os.path.join(BASE, "brief.log")
    job = sbatch("--wrap", f"echo start ${{SLURM_RESTART_COUNT:-0}} >> {log}; sleep 20; echo done >> {log}")
    wait_for("job running", lambda: running(job), 30)
    time.sleep(2)
    t0 = time.monotonic()
    C.stop_slurmd()
    time.sleep(2)
    check("brief_still_running_without_slurmd", running(job), f"{states().get(job)}")
    C.start_slurmd()
    print(f"  slurmd back after {time.monotonic() - t0:.1f} s; job: {states().get(job)}, "
          f"node: {C.node_state()}")
    st = wait_for("job ended", lambda: states().get(job, ("RUNNING",))[0] not in ("RUNNING", "COMPLETING")
                  and states()[job], 45)
    print(f"  job after the brief kill: {st}")
    check("brief_completed", st == ("COMPLETED", "None"), f"{st}")
    check("brief_ran_once", open(log).read() == "start 0\ndone\n", open(log).read())


def test_slurmd_killed_until_down():
    """slurmd killed and left down until the node is DOWN (SlurmdTimeout plus
    a ping cycle): the running batch job is requeued (PENDING, Restarts=1, its
    first run killed when slurmd comes back)."""
    log = os.path.join(BASE, "down.log")
    job = sbatch("--wrap", f"echo start ${{SLURM_RESTART_COUNT:-0}} >> {log}; sleep 120; echo done >> {log}")
    wait_for("job running", lambda: running(job), 30)
    t0 = time.monotonic()
    C.stop_slurmd()
    wait_for("node down", lambda: (C.node_state() or "").startswith("down"),
             6 * cluster.SLURMD_TIMEOUT)
    print(f"  node {C.node_state()} {time.monotonic() - t0:.1f} s after the kill; "
          f"job: {states().get(job)}")
    st_down = states().get(job)
    C.start_slurmd()
    time.sleep(2)
    st = states().get(job)
    print(f"  after slurmd restarted: node {C.node_state()}, job {st}, "
          f"Restarts={job_field(job, 'Restarts')}, BeginTime={job_field(job, 'BeginTime')}, "
          f"Reason={job_field(job, 'Reason')}")
    check("down_requeued", st_down is not None and st_down[0] == "PENDING", f"{st_down}")
    check("down_restarts", job_field(job, "Restarts") == "1", job_field(job, "Restarts"))
    check("down_node_back", C.node_state() in ("idle", "mixed", "allocated"), C.node_state())
    # The first run is killed when slurmd re-registers: its "done" never comes.
    time.sleep(1)
    check("down_first_run_killed", open(log).read() == "start 0\n", open(log).read())
    C.run("scancel", job)


def http(method, url, data=None):
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""


def test_cache_put_get():
    body = os.urandom(100000)
    url = C.cache_url + "/ab/cdef/object.tar"
    status, _ = http("PUT", url, body)
    check("cache_put_created", status == 201, f"{status}")
    status, _ = http("HEAD", url)
    check("cache_head", status == 200, f"{status}")
    status, got = http("GET", url)
    check("cache_get_same_bytes", status == 200 and got == body, f"{status} {len(got)}")
    with open(os.path.join(C.cache_dir, "ab", "cdef", "object.tar"), "rb") as f:
        check("cache_on_disk", f.read() == body)
    status, _ = http("PUT", url, b"replaced")
    check("cache_put_replace", status == 204, f"{status}")
    check("cache_get_replaced", http("GET", url) == (200, b"replaced"))
    check("cache_missing_404", http("GET", C.cache_url + "/no/such/object")[0] == 404)
    check("cache_missing_head_404", http("HEAD", C.cache_url + "/no/such/object")[0] == 404)


def test_stop_leaves_nothing():
    pids = [C._pid(n) for n in cluster.DAEMONS]
    C.stop()
    C.stop()  # idempotent
    left = [p for p in pids if p is not None and cluster._alive(p)]
    check("stop_leaves_no_daemon", not left, f"{left}")
    check("stop_leaves_no_stepd", not C._stepds(), f"{C._stepds()}")


def main():
    global C, BASE
    ok, why = cluster.available()
    if not ok:
        print(f"SKIP: {why}")
        sys.exit(77)
    with tempfile.TemporaryDirectory(prefix="slipway-cluster-") as tmp:
        BASE = tmp
        os.makedirs(os.path.join(BASE, "out"))
        C = cluster.Cluster(os.path.join(BASE, "c"))
        t = time.monotonic()
        C.start()
        print(f"  cluster up in {time.monotonic() - t:.2f} s; cache at {C.cache_url}")
        try:
            for fn in (test_cache_put_get, test_job_runs, test_dependency_never_satisfied,
                       test_held_and_cancelled, test_slurmd_killed_briefly,
                       test_slurmd_killed_until_down, test_stop_leaves_nothing):
                run_test(fn)
        finally:
            C.stop()
    finish("cluster")


if __name__ == "__main__":
    main()
