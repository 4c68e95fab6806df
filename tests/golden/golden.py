#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Golden-file tests for `slipway check`.

Usage: golden.py SLIPWAY CASES_DIR [--regenerate] [NAME...]

Every directory CASES_DIR/NAME is one case: a project (slipway.toml and the
files it needs) plus

  expected         "exit N" on the first line, then the exact stderr
  args             optional: extra arguments for `slipway check`, one a line;
                   when present, stdout is compared too, with
  expected-stdout  the exact stdout (also compared whenever it exists)

`SLIPWAY check [ARGS...]` runs with the case directory as its working
directory, SOURCE_DATE_EPOCH unset and LC_ALL=C. Exit status and stderr (and
stdout, see above) must match byte for byte. --regenerate rewrites the
expected files from what slipway printed (only for the NAMEs, if given):
read every regenerated file before committing it.

Prints "ok NAME" or "FAIL NAME" plus a unified diff per case, then
"golden: N passed, N failed"; exits 1 if a case failed or none was found.
"""
import os
import subprocess
import sys
from runner import diff, read_text, write_text
import runner

TIMEOUT = 20  # seconds per case; a hang is a failure, not a stuck suite


def read_args(case_dir):
    path = os.path.join(case_dir, "args")
    if not os.path.exists(path):
        return None
    return [line for line in read_text(path).split("\n") if line != ""]


def status_line(returncode):
    if returncode < 0:
        return f"signal {-returncode}"
    return f"exit {returncode}"


def run_case(slipway, case_dir):
    """Returns (status line, stderr, stdout) as text."""
    args = read_args(case_dir) or []
    env = dict(os.environ)
    env.pop("SOURCE_DATE_EPOCH", None)
    env["LC_ALL"] = "C"
    try:
        p = subprocess.run([slipway, "check", *args], cwd=case_dir, env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=TIMEOUT)
    except OSError as e:
        return f"cannot run '{slipway}': {e.strerror}", "", ""
    except subprocess.TimeoutExpired as e:
        err = (e.stderr or b"").decode("utf-8", "surrogateescape")
        out = (e.stdout or b"").decode("utf-8", "surrogateescape")
        return f"timeout after {TIMEOUT} s", err, out
    return (status_line(p.returncode), p.stderr.decode("utf-8", "surrogateescape"),
            p.stdout.decode("utf-8", "surrogateescape"))


def check_case(slipway, cases_dir, name, regenerate):
    """Returns (passed, report text)."""
    case_dir = os.path.join(cases_dir, name)
    exp_path = os.path.join(case_dir, "expected")
    out_path = os.path.join(case_dir, "expected-stdout")
    compare_stdout = os.path.exists(os.path.join(case_dir, "args")) or os.path.exists(out_path)

    status, err, out = run_case(slipway, case_dir)
    got = status + "\n" + err

    if regenerate:
        changed = []
        if not os.path.exists(exp_path) or read_text(exp_path) != got:
            write_text(exp_path, got)
            changed.append("expected")
        if compare_stdout and (not os.path.exists(out_path) or read_text(out_path) != out):
            write_text(out_path, out)
            changed.append("expected-stdout")
        if changed:
            return True, f"regenerated {name} ({', '.join(changed)})\n"
        return True, f"ok {name}\n"

    problems = []
    if not os.path.exists(exp_path):
        problems.append(f"  no file '{name}/expected' (create it with --regenerate, then read it)\n")
    else:
        want = read_text(exp_path)
        if want != got:
            problems.append(diff(want, got, f"{name}/expected", f"{name} (actual)"))
    if compare_stdout:
        if not os.path.exists(out_path):
            problems.append(f"  no file '{name}/expected-stdout' (create it with --regenerate, then read it)\n")
        else:
            want = read_text(out_path)
            if want != out:
                problems.append(diff(want, out, f"{name}/expected-stdout", f"{name} stdout (actual)"))
    if problems:
        return False, f"FAIL {name}\n" + "".join(problems)
    return True, f"ok {name}\n"


if __name__ == "__main__":
    sys.exit(runner.main(sys.argv, "golden.py", __doc__, check_case, os.cpu_count() or 4))
