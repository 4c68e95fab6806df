#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs the toml-test conformance suite (TOML 1.0.0 file list) against
`slipway toml-json`: every valid file must print JSON equal to the .json
beside it, every invalid file must exit 1 with a file:line:column error.

Usage: toml_test.py SLIPWAY SUITE_DIR [FILTER]
"""
import json
import math
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor


def norm_datetime(s):
    s = s.replace(" ", "T").replace("t", "T").replace("z", "Z")
    s = re.sub(r"\+00:00$", "Z", s)
    s = re.sub(r"-00:00$", "Z", s)
    # Fractional seconds: compare as a number, trailing zeros are not significant.
    m = re.match(r"^(.*\d\d:\d\d:\d\d)\.(\d+)(.*)$", s)
    if m:
        frac = m.group(2).rstrip("0")
        s = m.group(1) + ("." + frac if frac else "") + m.group(3)
    return s


def as_float(s):
    return float(s.replace("_", ""))


def equal(want, got, path="$"):
    """Returns None if equal, else a description of the first difference."""
    if isinstance(want, dict) and set(want.keys()) == {"type", "value"} and isinstance(want.get("value"), str):
        if not (isinstance(got, dict) and set(got.keys()) == {"type", "value"}):
            return f"{path}: want a {want['type']}, got {json.dumps(got)[:80]}"
        if want["type"] != got["type"]:
            return f"{path}: want type {want['type']}, got {got['type']}"
        t, w, g = want["type"], want["value"], got["value"]
        if t == "float":
            wf, gf = as_float(w), as_float(g)
            if math.isnan(wf) and math.isnan(gf):
                return None
            if wf != gf:
                return f"{path}: want {w}, got {g}"
            return None
        if t == "integer":
            return None if int(w) == int(g) else f"{path}: want {w}, got {g}"
        if t.startswith("datetime") or t in ("date-local", "time-local"):
            return None if norm_datetime(w) == norm_datetime(g) else f"{path}: want {w}, got {g}"
        return None if w == g else f"{path}: want {w!r}, got {g!r}"
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"{path}: want a table, got {json.dumps(got)[:80]}"
        if set(want.keys()) != set(got.keys()):
            return f"{path}: keys differ: want {sorted(want.keys())}, got {sorted(got.keys())}"
        for k in want:
            d = equal(want[k], got[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(want) != len(got):
            return f"{path}: want an array of {len(want)}, got {json.dumps(got)[:80]}"
        for i, (w, g) in enumerate(zip(want, got)):
            d = equal(w, g, f"{path}[{i}]")
            if d:
                return d
        return None
    return f"{path}: unexpected expected-value {want!r}"


POS = re.compile(r"^.+:\d+:\d+: error: .+", re.M)


def run_one(slipway, suite, rel):
    path = os.path.join(suite, rel)
    p = subprocess.run([slipway, "toml-json", path], capture_output=True, timeout=30)
    if rel.startswith("valid/"):
        if p.returncode != 0:
            return f"{rel}: exit {p.returncode}: {p.stderr.decode(errors='replace').strip()[:300]}"
        with open(path[:-5] + ".json", "rb") as f:
            want = json.load(f)
        try:
            got = json.loads(p.stdout)
        except ValueError as e:
            return f"{rel}: output is not JSON: {e}"
        d = equal(want, got)
        return f"{rel}: {d}" if d else None
    if p.returncode != 1:
        return f"{rel}: accepted an invalid document (exit {p.returncode})"
    err = p.stderr.decode(errors="replace")
    if not POS.search(err):
        return f"{rel}: error has no file:line:column: {err.strip()[:200]}"
    if p.stdout:
        return f"{rel}: printed output for an invalid document"
    return None


def main():
    slipway, suite = sys.argv[1], sys.argv[2]
    flt = sys.argv[3] if len(sys.argv) > 3 else ""
    if not os.path.isfile(os.path.join(suite, "files-toml-1.0.0")):
        print(f"SKIP: toml-test data not found at {suite} (../shared/toml-test beside the checkout)")
        return 77
    with open(os.path.join(suite, "files-toml-1.0.0")) as f:
        files = [l.strip() for l in f if l.strip().endswith(".toml") and flt in l]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        results = list(ex.map(lambda r: run_one(slipway, suite, r), files))
    failures = [r for r in results if r]
    for r in failures:
        print("FAIL", r)
    nv = sum(1 for f in files if f.startswith("valid/"))
    print(f"toml-test 1.0.0: {len(files) - len(failures)}/{len(files)} passed "
          f"({nv} valid, {len(files) - nv} invalid), {len(failures)} failed")
    return 1 if failures or not files else 0


if __name__ == "__main__":
    sys.exit(main())
