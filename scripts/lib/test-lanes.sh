#!/bin/sh
# test-lanes.sh: runs the test programs of one `cargo test` build side by side, for scripts/test.
#
# `cargo test` runs its test programs one after another, and most of hamon's wait: for a
# failover bound, an etcd election, a lease. So they run in lanes instead, after one
# build (`cargo test --no-run`):
#   - one lane, one at a time, for those that keep both cores busy (compilers, JVMs,
#     packagers, the simulation, a browser) or share build products in the target directory
#     (target/java: java, maven, packaging, readme);
#   - HAMON_TEST_LANES (default 2) lanes for the rest, each taking the next job nobody took,
#     slowest first.
# A job is one test program (`cargo test --locked --no-fail-fast` for one target, so it gets
# cargo's environment) or one file of tests/integration.rs (that program, filtered to the
# file's module: a process of its own, as a program of its own would be); its output goes to
# TARGET/test-logs/JOB.log and is printed whole when it ends.
# Every job runs whatever failed before; the exit status is 1 when any failed, and the
# failed ones are named at the end. Extra arguments go to every test program (after --).
#
# Environment: CARGO (default cargo), CARGO_TARGET_DIR, HAMON_TEST_LANES.
set -eu

cargo=${CARGO:-cargo}
lanes=${HAMON_TEST_LANES:-2}
case $lanes in
    '' | *[!0-9]* | 0)
        echo "test-lanes: HAMON_TEST_LANES must be a number of lanes (1 or more), not '$lanes'" >&2
        exit 2
        ;;
esac

# Busy or sharing target/java: one at a time, in this order (the ones that build the portable
# release first, then the longest).
heavy="c_examples glibc_baseline packaging java rpm maven readme lib heartbeat_browser benches"
# The slowest of the others first, so that no lane ends with a long one alone.
slow="etcd_partition etcd_daemon heartbeat_faults heartbeat_crash_handover etcd_trust
    scripts_safety heartbeat_daemon heartbeat_cluster_events shells heartbeat_pause pacemaker
    heartbeat_cpu attack scripts heartbeat_tick_loop heartbeat_tick_fence heartbeat_flap
    c_heartbeat etcd_node"

target=${CARGO_TARGET_DIR:-$PWD/target}
logs=$target/test-logs
rm -rf "$logs"
mkdir -p "$logs/claimed" "$logs/done"

# Every job: the library's and the programs' unit tests, the benchmarks, each file of tests/
# (integration.rs's own test as `integration`).
all="lib bin:ha-probe bin:ha-heartbeat benches"
for file in tests/*.rs; do
    name=${file#tests/}
    all="$all ${name%.rs}"
done

# The lists, one space between words.
# shellcheck disable=SC2086,SC2116 # word splitting is the point
heavy=$(echo $heavy) slow=$(echo $slow)
contains() {
    case " $1 " in *" $2 "*) return 0 ;; esac
    return 1
}
light=""
for job in $slow $all; do
    contains "$heavy" "$job" || contains "$light" "$job" || light="$light $job"
done
for job in $heavy; do
    contains "$all" "$job" || {
        echo "test-lanes: $job is listed as heavy but is no test binary" >&2
        exit 2
    }
done

# run JOB: one test program (or one module of tests/integration.rs), its output printed whole
# (one at a time) when it ends; JOB's status (0 or the exit status) in done/JOB.
run() {
    _filter=""
    case $1 in
        lib) _what="--lib" ;;
        # Each benchmark by name: --benches would run the unit tests again too.
        benches) _what=$(sed -n '/^\[\[bench\]\]$/{n;s/^name = "\(.*\)"$/--bench \1/p;}' Cargo.toml) ;;
        bin:*) _what="--bin ${1#bin:}" ;;
        integration) _what="--test integration" _filter="every_test_file_runs" ;;
        *)
            if grep -q "^mod $1;\$" tests/integration.rs; then
                _what="--test integration" _filter="$1::"
            else
                _what="--test $1"
            fi
            ;;
    esac
    _name=$(echo "$1" | tr : @)
    _log="$logs/$_name.log"
    _start=$(date +%s)
    _status=0
    # shellcheck disable=SC2086 # the target and the test programs' arguments, as words
    "$cargo" test --locked --no-fail-fast $_what -- $_filter $args >"$_log" 2>&1 || _status=$?
    _took=$(($(date +%s) - _start))
    echo "$_status" >"$logs/done/$_name"
    (
        flock 9
        if [ "$_status" -eq 0 ]; then
            echo "==== $1: passed in ${_took} s"
        else
            echo "==== $1: FAILED (exit $_status) in ${_took} s"
        fi
        cat "$_log"
    ) 9>"$logs/print.lock"
}

# lane JOBS...: takes each job nobody has taken yet (mkdir is atomic) and runs it.
lane() {
    for _job in "$@"; do
        mkdir "$logs/claimed/$(echo "$_job" | tr : @)" 2>/dev/null || continue
        run "$_job"
    done
}

args=$*
started=$(date +%s)
trap 'kill 0' INT TERM
# shellcheck disable=SC2086 # the lists are words
lane $heavy &
i=0
while [ "$i" -lt "$lanes" ]; do
    # shellcheck disable=SC2086
    lane $light &
    i=$((i + 1))
done
wait

passed=$(cat "$logs"/*.log | sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\1/p' |
    awk '{ n += $1 } END { print n + 0 }')
failed=$(cat "$logs"/*.log | sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\2/p' |
    awk '{ n += $1 } END { print n + 0 }')
echo "==== $passed tests passed, $failed failed, in $(($(date +%s) - started)) s (logs: $logs)"
# A job that failed, or never ended with a status (its lane died), fails the run.
names=""
for job in $all; do
    name=$(echo "$job" | tr : @)
    [ "$(cat "$logs/done/$name" 2>/dev/null)" = 0 ] || names="$names $job"
done
if [ -n "$names" ]; then
    echo "==== failed:$names" >&2
    exit 1
fi
