# SPDX-License-Identifier: MIT
"""What the golden runners share (golden.py: `slipway check`; image.py: dumps
of built images): reading and writing expected files, diffs, and the command
line, case selection, parallel run and closing line of
    RUNNER SLIPWAY CASES_DIR [--regenerate] [NAME...]"""
import difflib
import os
import sys
from concurrent.futures import ThreadPoolExecutor


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "surrogateescape")


def write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(text.encode("utf-8", "surrogateescape"))
    os.replace(tmp, path)


def diff(want, got, want_name, got_name):
    out = []
    for line in difflib.unified_diff(want.splitlines(keepends=True), got.splitlines(keepends=True),
                                     fromfile=want_name, tofile=got_name):
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def main(argv, prog, doc, check_case, workers, prepare=None):
    """Parses argv, runs check_case(slipway, cases_dir, name, regenerate) ->
    (ok, text) for each selected case on `workers` threads, prints the texts in
    order and "golden: N passed, N failed". prepare() may return an exit status
    (77: skip) before any case runs."""
    def usage(msg=None):
        if msg:
            print(f"{prog}: {msg}", file=sys.stderr)
        print(f"Usage: {prog} SLIPWAY CASES_DIR [--regenerate] [NAME...]", file=sys.stderr)
        sys.exit(2)

    regenerate = False
    positional = []
    for a in argv[1:]:
        if a == "--regenerate":
            regenerate = True
        elif a in ("-h", "--help"):
            print(doc.strip())
            return 0
        elif a.startswith("-") and a != "-":
            usage(f"unknown option '{a}'")
        else:
            positional.append(a)
    if len(positional) < 2:
        usage()
    slipway, cases_dir, names = positional[0], positional[1], positional[2:]
    # The cases run in their own directories: resolve a relative path now.
    if os.sep in slipway:
        slipway = os.path.abspath(slipway)
    if not os.path.isdir(cases_dir):
        usage(f"'{cases_dir}' is not a directory")
    if not (os.access(slipway, os.X_OK) and os.path.isfile(slipway)) and os.sep in slipway:
        print(f"{prog}: '{slipway}' is not an executable file", file=sys.stderr)
        return 1
    if prepare:
        status = prepare()
        if status is not None:
            return status
    cases_dir = os.path.abspath(cases_dir)

    all_cases = sorted(e.name for e in os.scandir(cases_dir) if e.is_dir() and not e.name.startswith("."))
    if names:
        unknown = [n.rstrip("/") for n in names if n.rstrip("/") not in all_cases]
        if unknown:
            print(f"{prog}: no such case: {', '.join(unknown)}", file=sys.stderr)
            return 1
        cases = [n.rstrip("/") for n in names]
    else:
        cases = all_cases

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda n: check_case(slipway, cases_dir, n, regenerate), cases))
    passed = failed = 0
    for ok, text in results:
        sys.stdout.write(text)
        passed += ok
        failed += not ok
    if not cases:
        print(f"{prog}: no cases in '{cases_dir}'", file=sys.stderr)
    print(f"golden: {passed} passed, {failed} failed")
    sys.stdout.flush()
    return 1 if failed or not cases else 0
