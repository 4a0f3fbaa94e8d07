#!/bin/sh
# test-lanes.sh: runs the test binaries of one `cargo test` build side by side, for scripts/test.
#
# `cargo test` runs its test binaries one after another, and most of hamon's wait: for a
# failover bound, an etcd election, a lease. So the binaries run in lanes instead, after one
# build (`cargo test --no-run`):
#   - one lane, one binary at a time, for the binaries that keep the CPU busy (compilers, JVMs,
#     packagers, the simulation) or share build products in the target directory
#     (target/java: java, maven, packaging, readme);
#   - HAMON_TEST_LANES (default 2) lanes for the rest, each taking the next binary nobody took,
#     slowest first.
# A job is one test program (`cargo test --locked --no-fail-fast` for one target, so it gets
# cargo's environment) or one file of tests/integration.rs (that program, filtered to the
# file's module: a process of its own, as a program of its own would be); its output goes to
# TARGET/test-logs/JOB.log and is printed whole when it ends.
# Every binary runs whatever failed before; the exit status is 1 when any failed, and the
# failed ones are named at the end. Extra arguments go to every test binary (after --).
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
heavy="c_examples glibc_baseline java packaging rpm maven scripts_safety scripts shells
    pacemaker readme attack lib heartbeat_browser c_heartbeat benches"
# The slowest of the others first, so that no lane ends with a long one alone.
slow="etcd_partition etcd_daemon heartbeat_faults etcd_trust heartbeat_daemon
    heartbeat_switchover heartbeat_ops etcd_protocol heartbeat_pause heartbeat_fence_kill
    heartbeat_cpu etcd_node"

target=${CARGO_TARGET_DIR:-$PWD/target}
logs=$target/test-logs
rm -rf "$logs"
mkdir -p "$logs/claimed" "$logs/failed"

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

# run JOB: one test binary, its output printed whole (one at a time) when it ends.
run() {
    case $1 in
        lib) set -- "$1" --lib "" ;;
        benches) set -- "$1" --benches "" ;;
        bin:*) set -- "$1" --bin "${1#bin:}" "" ;;
        integration) set -- "$1" --test integration "every_test_file_runs" ;;
        *)
            if grep -q "^mod $1;\$" tests/integration.rs; then
                set -- "$1" --test integration "$1::"
            else
                set -- "$1" --test "$1" ""
            fi
            ;;
    esac
    _log="$logs/$(echo "$1" | tr : @).log"
    _start=$(date +%s)
    _status=0
    # shellcheck disable=SC2086 # the test binaries' arguments, as words
    "$cargo" test --locked --no-fail-fast "$2" "$3" -- $4 $args >"$_log" 2>&1 || _status=$?
    _took=$(($(date +%s) - _start))
    [ "$_status" -eq 0 ] || : >"$logs/failed/$(echo "$1" | tr : @)"
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
names=""
for mark in "$logs"/failed/*; do
    [ -e "$mark" ] && names="$names $(basename "$mark" | tr @ :)"
done
if [ -n "$names" ]; then
    echo "==== failed:$names" >&2
    exit 1
fi
