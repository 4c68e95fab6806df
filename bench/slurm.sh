#!/bin/bash
# SPDX-License-Identifier: MIT
# Slurm engine benchmark (issue 17): what `slipway package --engine slurm`
# would take on N builders for a 7,500-component distribution, and what its
# submission costs on a real Slurm.
#   1. Submission: starts a one-node Slurm (tests/services/cluster.py, in a
#      temporary directory; needs root and munge, slurmctld, slurmd,
#      slurm-client, nginx-core) and submits every job of the graph that
#      bench/slurm-sim.py generates, held (sbatch --hold: nothing runs), with
#      their afterok dependencies, in the order slipway uses, first with one
#      sbatch at a time and then with 4 at once (a job is submitted once its
#      dependencies have ids); prints jobs/s, ms per job and the time for the
#      whole graph (goal: under 2 minutes), then scancels them. If a probe of
#      200 jobs projects more than 5 minutes, 1,500 are submitted and the rest
#      is extrapolated (the line says so).
#   2. Simulation (bench/slurm-sim.py): the build on 8 to 128 builders for
#      each submission order, with the per-call cost measured in 1 (10 ms
#      when step 1 was skipped).
# The graph, its durations and the simulation are a model, described in
# bench/slurm-sim.py's header and docs/notes/slurm-sim.md.
#
#   bench/slurm.sh [N]        (CLUSTER_PY=path/to/cluster.py, default
#                              tests/services/cluster.py)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-7500}
CLUSTER_PY=${CLUSTER_PY:-$PWD/tests/services/cluster.py}
sim=$PWD/bench/slurm-sim.py
echo "bench/slurm.sh: $N components, $(nproc) CPUs"

# 1. Submission against a real Slurm.
ms1=10 ms4=
submit_skip() { echo "submit:            skipped: $1 (the simulation uses 10 ms per sbatch call)"; }
if [ "$(id -u)" != 0 ]; then
        submit_skip "needs root (a one-node Slurm with its own munged)"
elif [ ! -f "$CLUSTER_PY" ]; then
        submit_skip "no $CLUSTER_PY"
else
        work=$(mktemp -d /tmp/slipway-bench-slurm.XXXXXX)
        trap 'python3 "$CLUSTER_PY" stop "$work/cluster" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
        status=0
        python3 "$CLUSTER_PY" start "$work/cluster" > "$work/env" 2> "$work/start.err" || status=$?
        if [ "$status" = 77 ]; then
                submit_skip "$(tail -n 1 "$work/start.err")"
        elif [ "$status" != 0 ]; then
                tail -n 30 "$work/start.err" >&2
                echo "bench/slurm.sh: the cluster did not start (exit status $status)" >&2
                exit 1
        else
                # Client settings of the caller's would change what sbatch does.
                for v in "${!SBATCH_@}" "${!SLURM_@}"; do unset "$v"; done
                eval "$(grep '^export SLURM_CONF=' "$work/env")"
                echo "cluster:           $(sinfo -h -N -o '%N %c CPUs %T') ($(sbatch --version))"
                python3 "$sim" submit -n "$N" -P 1 --dir "$work/out" --result "$work/cost-1"
                python3 "$sim" submit -n "$N" -P 4 --dir "$work/out" --result "$work/cost-4"
                ms1=$(cut -d' ' -f1 "$work/cost-1")
                ms4=$(cut -d' ' -f1 "$work/cost-4")
                # slipway's own submission of the same graph: the project
                # written as tiny specs (on /dev/shm: many files), the jobs
                # held; once slipway says it submitted them all it is sent
                # SIGTERM, which cancels them (its interrupt path).
                slipway=${SLIPWAY:-$PWD/build/slipway}
                if [ -x "$slipway" ]; then
                        proj=$(mktemp -d /dev/shm/slipway-bench-model.XXXXXX)
                        trap 'python3 "$CLUSTER_PY" stop "$work/cluster" >/dev/null 2>&1 || true; rm -rf "$work" "$proj"' EXIT
                        cache_url=$(grep '^export SLIPWAY_TEST_CACHE_URL=' "$work/env" | cut -d= -f2-)
                        python3 "$sim" project -n "$N" --dir "$proj" --cache-url "$cache_url" --sbatch-option=--hold >/dev/null
                        echo "slipway:           its plan queries the $N specs with rpmspec first; the figure is slipway's own, of the submission alone"
                        "$slipway" -C "$proj" package --engine slurm > "$work/slipway.out" 2> "$work/slipway.err" &
                        pid=$!
                        while kill -0 "$pid" 2>/dev/null && ! grep -q '^slurm: .* submitted' "$work/slipway.out"; do
                                sleep 0.5
                        done
                        kill -TERM "$pid" 2>/dev/null || true
                        wait "$pid" || true
                        line=$(grep '^slurm: .* submitted' "$work/slipway.out" || true)
                        if [ -n "$line" ]; then
                                echo "slipway submits:   ${line#slurm: } (goal for 7,500: under 120 s)"
                        else
                                echo "slipway submits:   failed"; tail -n 5 "$work/slipway.err"
                        fi
                        left=$(squeue -h -o %i | wc -l)
                        echo "after SIGTERM:     $left job(s) of the run left in the queue (slipway cancels them)"
                fi
                python3 "$CLUSTER_PY" stop "$work/cluster"
        fi
fi

# 2. The simulation, with the submission cost measured above.
echo
python3 "$sim" -n "$N" --submit-ms "$ms1" --submitters 1
if [ -n "$ms4" ]; then
        echo
        echo "The same with 4 submitters at the measured $(printf '%.1f' "$ms4") ms per sbatch call:"
        python3 "$sim" -n "$N" --submit-ms "$ms4" --submitters 4 --brief
fi
