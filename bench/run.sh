#!/usr/bin/env bash
# Benchmark for issue 5: is the nightly job "fast at scale, close to the cost of
# reading the files"? For each size it times
#   - the floor: target/release/read_floor, polars' CSV reader on the same files;
#   - the job:   target/release/churnwatch -q run on them;
# and prints one markdown table (stdout) ready to paste into the README, plus each
# size's stage timings from run_summary.json. Progress goes to stderr.
#
# Usage: bench/run.sh [SIZES...]        (accounts per size; default: 10000 100000)
#   REPS=n       repetitions per size, best (fastest) kept; default 3 up to 100000
#                accounts, 1 above (a 1000000-account run takes many minutes)
#   BENCH_DIR=d  work folder (default /tmp/churnwatch-bench); generated data is kept
#                in d/N/data and reused by later runs with the same size
#
# Sizes: input is about 16 KB of CSV per account, and at ef8616b the run's peak RSS
# about 48 KB per account (4.8 GB at 100000), so 1000000 needs ~16 GB of disk and
# ~50 GB of RAM.
#
# Manual tool only: tests and CI must not call it (it takes minutes and gigabytes).
set -euo pipefail

PROJECT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly PROJECT
readonly WORK="${BENCH_DIR:-/tmp/churnwatch-bench}"
readonly SEED=7
readonly END=2026-11-20 # sample's last day; the run is pinned to it
readonly TABLES=(accounts meetings messages action_items study_sessions invoices outcomes churn_events)
# The binaries and config.toml are copied here right after the build, so every
# repetition measures the same build even if someone rebuilds or edits the project
# while the benchmark runs (it takes minutes).
readonly SNAPSHOT="$WORK/snapshot"
readonly CHURNWATCH="$SNAPSHOT/churnwatch"
readonly READ_FLOOR="$SNAPSHOT/read_floor"
readonly CONFIG="$SNAPSHOT/config.toml"

if (($# > 0)); then SIZES=("$@"); else SIZES=(10000 100000); fi

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
    printf '[bench] error: %s\n' "$*" >&2
    exit 1
}

for n in "${SIZES[@]}"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "size '$n' is not a positive whole number of accounts"
done
[[ -z "${REPS:-}" || "$REPS" =~ ^[1-9][0-9]*$ ]] || die "REPS='$REPS' is not a positive whole number"
# C locale: '.' as the decimal separator of EPOCHREALTIME, awk and sort.
export LC_ALL=C
command -v python3 >/dev/null || die "python3 is needed (JSON summary, timing fallback)"

# ---------------------------------------------------------------------------
# measure NAME CMD...: runs CMD with stdout+stderr to NAME.log and writes
# "WALL_S PEAK_RSS_KB" to NAME.res (KB = 1024 bytes, as GNU time and getrusage
# report it; the table converts to MB = 10^6 bytes). Stops the benchmark if CMD fails.
#
# With GNU time: peak RSS from its %M; wall time from bash's EPOCHREALTIME
# (microseconds), because %e has 10 ms resolution, too coarse for a floor of a few
# tens of ms at 10k accounts. Without /usr/bin/time: python3 times its child itself
# (so its own start-up is not counted) and reads the child's peak RSS from
# getrusage(RUSAGE_CHILDREN) (ru_maxrss is in KB on Linux).
measure() {
    local out="$1"
    shift
    if [[ -x /usr/bin/time ]]; then
        local t0 t1
        t0=$EPOCHREALTIME
        /usr/bin/time -f '%e %M' -o "$out.time" "$@" >"$out.log" 2>&1 ||
            die "failed (see $out.log): $*"
        t1=$EPOCHREALTIME
        # Last line of the -o file: GNU time may put notes before it.
        awk -v a="$t0" -v b="$t1" '{ r = $2 } END { printf "%.3f %d\n", b - a, r }' \
            "$out.time" >"$out.res"
    else
        python3 - "$out.res" "$@" >"$out.log" 2>&1 <<'PY' || die "failed (see $out.log): $*"
import resource, subprocess, sys, time
t0 = time.perf_counter()
code = subprocess.call(sys.argv[2:])
wall = time.perf_counter() - t0
with open(sys.argv[1], "w") as f:
    f.write("%.3f %d\n" % (wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
PY
    fi
}

# best KIND DIR: "WALL_S PEAK_RSS_KB REP" of the fastest repetition of KIND (floor|run).
best() {
    local f
    for f in "$2/$1"-*.res; do
        printf '%s %s\n' "$(cat "$f")" "$(basename "$f" .res | cut -d- -f2)"
    done | sort -n -k1,1 | head -n1
}

# stage_timings N REP SUMMARY_JSON: one markdown bullet with the run's timings_ms.
stage_timings() {
    python3 - "$@" <<'PY'
import json, sys
n, rep, path = sys.argv[1:4]
with open(path) as f:
    stages = json.load(f).get("timings_ms", {})
parts = ", ".join(f"{k} {v}" for k, v in stages.items())
print(f"- {n} accounts (fastest repetition, #{rep}): {parts}; sum {sum(stages.values())} ms")
PY
}

# ---------------------------------------------------------------------------
log "building (cargo build --release --bins)"
(cd "$PROJECT" && cargo build --release --bins >&2) || die "cargo build failed"
mkdir -p "$SNAPSHOT"
cp "$PROJECT/target/release/churnwatch" "$PROJECT/target/release/read_floor" \
    "$PROJECT/config.toml" "$SNAPSHOT/"
revision=$(git -C "$PROJECT" describe --always --dirty 2>/dev/null || echo unknown)
generator=$(sha256sum <"$PROJECT/src/sample.rs" | cut -c1-16)
log "measuring revision $revision (binaries and config copied to $SNAPSHOT)"
rows=()
details=()
reps_used=()

for n in "${SIZES[@]}"; do
    dir="$WORK/$n"
    data="$dir/data"
    # The marker records how the data was made (parameters and the generator's source);
    # data is reused only if it matches, so an interrupted generation or data from a
    # changed generator is never measured.
    want="seed=$SEED accounts=$n end=$END generator=$generator"
    if [[ -f "$dir/.generated" && "$(cat "$dir/.generated")" == "$want" ]]; then
        log "$n accounts: reusing $data"
    else
        # About 16 KB of CSV per account; ask for 2.5x that (outputs, quarantine, slack).
        free_kb=$(df -Pk "$WORK" | awk 'NR == 2 { print $4 }')
        need_kb=$((n * 40))
        ((free_kb >= need_kb)) ||
            die "$n accounts needs about $((need_kb / 1024 / 1024)) GB free in $WORK, have $((free_kb / 1024 / 1024)) GB"
        log "$n accounts: generating into $data"
        rm -rf "$dir"
        mkdir -p "$dir"
        "$CHURNWATCH" -q sample --seed "$SEED" --accounts "$n" --end "$END" \
            --out "$data" --truth "$dir/truth.csv"
        printf '%s\n' "$want" >"$dir/.generated"
    fi

    # Input size: data lines (header excluded) and bytes over the eight exports.
    input_rows=0
    input_bytes=0
    for t in "${TABLES[@]}"; do
        f="$data/$t.csv"
        [[ -f "$f" ]] || die "missing $f"
        lines=$(wc -l <"$f")
        input_rows=$((input_rows + lines - 1))
        input_bytes=$((input_bytes + $(stat -c %s "$f")))
    done

    # Load average before measuring: anything else busy on the machine shows here.
    load=$(cut -d' ' -f1 /proc/loadavg)
    if [[ -n "${REPS:-}" ]]; then reps=$REPS; elif ((n <= 100000)); then reps=3; else reps=1; fi
    mkdir -p "$dir/times"
    rm -f "$dir"/times/*
    for ((i = 1; i <= reps; i++)); do
        # After generation or the first repetition the files are in the page cache, so
        # the best repetition measures parsing and compute, not the disk.
        log "$n accounts: repetition $i/$reps: floor"
        measure "$dir/times/floor-$i" "$READ_FLOOR" "$data"
        log "$n accounts: repetition $i/$reps: run"
        measure "$dir/times/run-$i" "$CHURNWATCH" -q run --config "$CONFIG" \
            --as-of "$END" --input-dir "$data" --output-dir "$dir/out"
        # Keep each repetition's summary so the stage timings shown are the best run's.
        cp "$dir/out/run_summary.json" "$dir/times/run_summary-$i.json"
        log "$n accounts: floor $(cut -d' ' -f1 "$dir/times/floor-$i.res") s, run $(cut -d' ' -f1 "$dir/times/run-$i.res") s"
    done

    # The floor's parsed row count must equal the line count, or some CSV field holds
    # a newline and "input rows" would be wrong.
    floor_rows=$(sed -n 's/^floor total_rows=\([0-9]*\).*/\1/p' "$dir/times/floor-1.log")
    [[ "$floor_rows" == "$input_rows" ]] ||
        log "warning: $n accounts: read_floor parsed $floor_rows rows, line count says $input_rows"

    read -r floor_s _ _ < <(best floor "$dir/times")
    read -r run_s run_rss_kb best_rep < <(best run "$dir/times")

    rows+=("$(awk -v n="$n" -v r="$input_rows" -v b="$input_bytes" -v f="$floor_s" \
        -v s="$run_s" -v m="$run_rss_kb" 'BEGIN {
            printf "| %d | %d | %.0f | %.3f | %.3f | %.1f× | %.0f | %.0f |", \
                n, r, b / 1e6, f, s, s / f, r / s, m * 1024 / 1e6 }')")
    details+=("$(stage_timings "$n" "$best_rep" "$dir/times/run_summary-$best_rep.json")")
    reps_used+=("$n accounts: best of $reps (load ${load} before)")
done

# ---------------------------------------------------------------------------
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
reps_text=$(printf '%s, ' "${reps_used[@]}")
mem_gb=$(awk '/^MemTotal/ { printf "%.0f", $2 / 1024 / 1024 }' /proc/meminfo)

echo "| accounts | input rows | input MB | floor s | run s | run / floor | rows/s | peak RSS MB |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "Machine: $(nproc) cores, ${cpu:-unknown CPU}, ${mem_gb} GB RAM; $(date +%Y-%m-%d)." \
    "${reps_text%, }; warm page cache;" \
    "revision $revision; sample --seed $SEED --end $END; MB = 10^6 bytes; peak RSS is the run's."
echo
echo "Stage timings of the run (run_summary.json):"
echo
printf '%s\n' "${details[@]}"
