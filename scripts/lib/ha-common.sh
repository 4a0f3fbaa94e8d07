# ha-common.sh: what online, offline, clean and ocf/hamon share. Sourced, never run.
#
# POSIX sh (dash, bash). Every variable set here starts with ha_, every function too.
# The caller sets two variables before sourcing:
#   ha_dir   the directory holding online/offline/clean, lib/ and (optionally) ha-probe
#            and ha.conf
#   ha_prog  its own name, for messages
#
# Then:  ha_init JAVA_HOME MZ_HOME USERNAME INSTANCE   (reads ha.conf, finds ha-probe)
# and one of  ha_online | ha_offline | ha_clean [REASON]  (print one status line each).
#
# How an instance runs: `online` starts the instance's start command with setsid(1), so
# it leads a new session and process group whose id is its pid. That pid goes into the
# pid file. The instance is "running" while any live (non-zombie) process remains in that
# group; `offline` and `clean` signal the whole group. A process that leaves the group on
# purpose (setsid, a daemon's double fork into a new session) is not tracked: start the
# application in the foreground.
#
# Exit codes used by the scripts: 0 done, 1 failed (the message says why), 2 bad
# arguments, 5 ha-probe or a needed tool missing, 6 bad configuration.

ha_prog=${ha_prog:-hamon}
ha_dir=${ha_dir:-.}

# ---- messages ------------------------------------------------------------------------

# An error message on stderr, and in the instance log when there is one.
ha_err() {
    printf '%s: %s\n' "$ha_prog" "$*" >&2
    ha_log "error: $*"
}

# A timestamped line in the instance log (LOG_DIR/INSTANCE.log); silent before ha_init.
ha_log() {
    if [ -n "${ha_log_file:-}" ]; then
        printf '%s %s[%s]: %s\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$ha_prog" "$$" "$*" \
            >>"$ha_log_file" 2>/dev/null || true
    fi
}

# Ends a "Starting ec1..." line: ha_done [NOTE] or ha_failed REASON.
ha_done() {
    printf 'done%s.\n' "${1:+ ($1)}"
    ha_log "done${1:+ ($1)}"
}
ha_failed() {
    printf 'failed: %s\n' "$*"
    ha_log "failed: $*"
}

# ---- configuration -------------------------------------------------------------------

# ha.conf is INI-like and never executed: [instance] sections of "key = value" lines;
# keys before the first section are defaults for every instance; lines starting with # or
# ; are comments; a value runs to the end of its line, as written (no quotes, no escapes).
# Only the defaults and the requested section are read: a mistake in another instance's
# section never stops this one from failing over.
# shellcheck disable=SC2016 # awk program: $1 etc. are awk's, not the shell's
ha_conf_awk='
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t\r]+$/, "", s); return s }
function fail(msg) { printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"; bad = 1 }
BEGIN {
    want = ENVIRON["HA_WANT"]
    keys = "start stop user pid_file ha_host ha_port online_timeout offline_timeout"
    keys = keys " clean_timeout probe_timeout log_dir state_dir"
    n = split(keys, k, " ")
    for (i = 1; i <= n; i++) known[k[i]] = 1
    section = ""
}
{ line = trim($0) }
line == "" || line ~ /^[#;]/ { next }
/^[ \t]*\[/ {
    if (line !~ /^\[[ \t]*[A-Za-z0-9_.-]+[ \t]*\]$/) {
        # Perhaps another instance header: an error only when ours is then missing.
        badhdr = badhdr " " FNR
        section = "\n"
        next
    }
    section = trim(substr(line, 2, length(line) - 2))
    names = names " " section
    if (section == want) {
        if (found) fail("section [" want "] appears twice (first on line " found ")")
        else found = FNR
    }
    next
}
section != "" && section != want { next }
{
    where = (section == "" ? "(defaults)" : "[" section "]")
    eq = index(line, "=")
    if (eq == 0) { fail(where ": expected \"key = value\", got: " line); next }
    key = trim(substr(line, 1, eq - 1))
    val = trim(substr(line, eq + 1))
    if (!(key in known)) { fail(where ": unknown key \"" key "\" (known keys: " keys ")"); next }
    if ((section, key) in seen) {
        fail(where ": " key " given twice (first on line " seen[section, key] ")")
        next
    }
    seen[section, key] = FNR
    if (key == "ha_port") {
        if (val !~ /^[0-9]+$/ || val + 0 < 1 || val + 0 > 65535)
            fail(where " ha_port: bad port \"" val "\" (expected 1-65535)")
    } else if (key ~ /_timeout$/) {
        if (val !~ /^[0-9]+$/ || val + 0 < 1 || val + 0 > 86400)
            fail(where " " key ": \"" val "\" is not a number of seconds (expected 1-86400)")
    } else if (key == "start") {
        if (val == "") fail(where " start: empty command")
    } else if (key == "user") {
        if (val !~ /^[A-Za-z_][A-Za-z0-9_.-]*$/) fail(where " user: bad user name \"" val "\"")
    } else if (key == "ha_host") {
        if (val !~ /^[A-Za-z0-9_.:]/ || val ~ /[^A-Za-z0-9_.:-]/)
            fail(where " ha_host: bad host \"" val "\" (a name or an address)")
    } else if (key ~ /^(pid_file|log_dir|state_dir)$/) {
        if (val !~ /^\// && val !~ /^\$MZ_HOME\// && val !~ /^\$\{MZ_HOME\}\//)
            fail(where " " key ": \"" val "\" must be an absolute path or start with $MZ_HOME/")
    }
    print key "=" val
}
END {
    if (!found) {
        printf "%s: no section [%s] (instances:%s)\n", FILENAME, want, (names == "" ? " none" : names) > "/dev/stderr"
        if (badhdr != "")
            printf "%s: unreadable section headers on lines%s (expected [name]; letters, digits, _ . -)\n", FILENAME, badhdr > "/dev/stderr"
        exit 1
    }
    if (!(("", "ha_port") in seen) && !((want, "ha_port") in seen)) {
        printf "%s: [%s]: no ha_port (add: ha_port = PORT)\n", FILENAME, want > "/dev/stderr"
        bad = 1
    }
    if (!(("", "start") in seen) && !((want, "start") in seen)) {
        printf "%s: [%s]: no start command (add: start = COMMAND)\n", FILENAME, want > "/dev/stderr"
        bad = 1
    }
    exit bad
}'

# $MZ_HOME/... or ${MZ_HOME}/... in a path setting means the MZ_HOME argument.
# Sets ha_path; fails when the path needs MZ_HOME and the argument is empty.
ha_expand() {
    case $2 in
        "\$MZ_HOME"/*) ha_path=${2#"\$MZ_HOME"} ;;
        "\${MZ_HOME}"/*) ha_path=${2#"\${MZ_HOME}"} ;;
        *)
            ha_path=$2
            return 0
            ;;
    esac
    if [ -z "$ha_mz_home" ]; then
        ha_err "$ha_conf: [$ha_instance] $1 = $2, but the MZ_HOME argument is empty"
        return 1
    fi
    ha_path=$ha_mz_home$ha_path
}

# ha_init JAVA_HOME MZ_HOME USERNAME INSTANCE: reads the instance's settings, creates its
# log and state directories, finds ha-probe. Returns 0, 2 (bad instance name), 5 (no
# ha-probe or runuser) or 6 (configuration error), with the reason on stderr.
ha_init() {
    ha_java_home=$1
    ha_mz_home=$2
    ha_username=$3
    ha_instance=$4
    ha_log_file=""
    case $ha_instance in
        '' | *[!A-Za-z0-9_.-]*)
            ha_err "bad instance name \"$ha_instance\" (letters, digits, _ . - only)"
            return 2
            ;;
    esac
    ha_conf=${HA_CONF:-$ha_dir/ha.conf}
    if [ ! -f "$ha_conf" ] || [ ! -r "$ha_conf" ]; then
        ha_err "cannot read $ha_conf (put ha.conf next to the scripts or set HA_CONF)"
        return 6
    fi
    # Its commands run with this script's privileges: a file anyone may change is refused.
    case $(ls -lLd -- "$ha_conf") in
        ????????w*) ha_conf_open=yes ;;
        *) ha_conf_open=no ;;
    esac
    if [ "$ha_conf_open" = yes ]; then
        ha_err "$ha_conf is writable by everyone; refusing to run its commands (chmod o-w)"
        return 6
    fi
    ha_settings=$(HA_WANT=$ha_instance awk "$ha_conf_awk" "$ha_conf") || return 6

    ha_start="" ha_stop="" ha_user="" ha_pid_file="" ha_host="" ha_port=""
    ha_online_timeout=120 ha_offline_timeout=60 ha_clean_timeout=10 ha_probe_timeout=5
    ha_log_dir="\$MZ_HOME/ha/log" ha_state_dir="\$MZ_HOME/ha/run"
    # Defaults come first in the awk output, so a section's own value wins.
    while IFS= read -r ha_line; do
        ha_value=${ha_line#*=}
        case ${ha_line%%=*} in
            start) ha_start=$ha_value ;;
            stop) ha_stop=$ha_value ;;
            user) ha_user=$ha_value ;;
            pid_file) ha_pid_file=$ha_value ;;
            ha_host) ha_host=$ha_value ;;
            ha_port) ha_port=$ha_value ;;
            online_timeout) ha_online_timeout=$ha_value ;;
            offline_timeout) ha_offline_timeout=$ha_value ;;
            clean_timeout) ha_clean_timeout=$ha_value ;;
            probe_timeout) ha_probe_timeout=$ha_value ;;
            log_dir) ha_log_dir=$ha_value ;;
            state_dir) ha_state_dir=$ha_value ;;
        esac
    done <<EOF
$ha_settings
EOF
    ha_host=${ha_host:-127.0.0.1}
    ha_expand log_dir "$ha_log_dir" || return 6
    ha_log_dir=$ha_path
    ha_expand state_dir "$ha_state_dir" || return 6
    ha_state_dir=$ha_path
    ha_expand pid_file "${ha_pid_file:-$ha_state_dir/$ha_instance.pid}" || return 6
    ha_pid_file=$ha_path
    for ha_d in "$ha_log_dir" "$ha_state_dir"; do
        if ! mkdir -p "$ha_d" 2>/dev/null || [ ! -w "$ha_d" ]; then
            ha_err "cannot create or write the directory $ha_d (log_dir, state_dir in $ha_conf)"
            return 6
        fi
    done
    ha_log_file=$ha_log_dir/$ha_instance.log
    ha_out_file=$ha_log_dir/$ha_instance.out

    # Run as ha.conf's user, through runuser (which keeps the process group, unlike
    # "su -c", whose command leads a session of its own that clean could not kill).
    ha_runas=""
    if [ -n "$ha_user" ] && [ "$ha_user" != "$(id -un)" ]; then
        if [ "$(id -u)" -ne 0 ]; then
            ha_err "[$ha_instance] user = $ha_user: only root can run commands as another user"
            return 6
        fi
        if ! id -u "$ha_user" >/dev/null 2>&1; then
            ha_err "[$ha_instance] user = $ha_user: no such user"
            return 6
        fi
        if ! command -v runuser >/dev/null 2>&1; then
            ha_err "[$ha_instance] user = $ha_user: runuser (util-linux) is not installed"
            return 5
        fi
        ha_runas=$ha_user
    fi
    for ha_tool in setsid ps; do
        if ! command -v "$ha_tool" >/dev/null 2>&1; then
            ha_err "$ha_tool is not installed (setsid: util-linux; ps: procps)"
            return 5
        fi
    done
    ha_find_probe || return 5
}

# ha-probe: $HA_PROBE when set (it must then be executable: no silent fallback), else
# next to the scripts, else on PATH. Sets ha_probe.
ha_find_probe() {
    if [ -n "${HA_PROBE:-}" ]; then
        ha_probe=$HA_PROBE
        if [ ! -f "$ha_probe" ] || [ ! -x "$ha_probe" ]; then
            ha_err "HA_PROBE=$ha_probe is not an executable file"
            return 1
        fi
    elif [ -f "$ha_dir/ha-probe" ] && [ -x "$ha_dir/ha-probe" ]; then
        ha_probe=$ha_dir/ha-probe
    elif ha_probe=$(command -v ha-probe 2>/dev/null) && [ -n "$ha_probe" ]; then
        :
    else
        ha_err "ha-probe not found: set HA_PROBE, or put it next to the scripts ($ha_dir) or on PATH"
        return 1
    fi
}

# ---- the instance's processes --------------------------------------------------------

# Reads the pid file into ha_pid; fails when there is none or it holds no pid.
ha_read_pid() {
    ha_pid=""
    [ -f "$ha_pid_file" ] || return 1
    IFS= read -r ha_pid <"$ha_pid_file" 2>/dev/null || true
    case $ha_pid in
        '' | *[!0-9]* | 0 | 1)
            ha_log "ignoring the unusable pid file $ha_pid_file"
            ha_pid=""
            return 1
            ;;
    esac
}

# True while process group $1 has a live member. Zombies do not count: an exited process
# whose parent has not reaped it yet runs nothing and holds no port. When ps fails we
# cannot tell, and say "alive": online then starts nothing, offline and clean report
# failure; never a false "stopped".
ha_group_alive() {
    if ! ha_ps=$(ps -e -o pgid= -o stat=); then
        ha_log "ps failed: process group $1 counts as alive"
        return 0
    fi
    printf '%s\n' "$ha_ps" |
        awk -v g="$1" '$1 == g && $2 !~ /^[ZX]/ { found = 1 } END { exit !found }'
}

# True when the instance's process group (from the pid file) is alive; sets ha_pid.
ha_running() {
    ha_read_pid && ha_group_alive "$ha_pid"
}

# Sends signal $1 to the whole process group $2.
ha_signal_group() {
    kill -s "$1" -- "-$2" 2>/dev/null
}

# Asks the instance's HA monitor server: ha_ask FORMAT SECONDS; returns ha-probe's code.
ha_ask() {
    "$ha_probe" --host "$ha_host" --port "$ha_port" --timeout "$2" --format "$1" --quiet
}

# True when anything answers on the instance's HA port (anything but "connection refused":
# a hung process that holds the port open counts as answering).
ha_answers() {
    ha_ask ocf 2
    [ "$?" -ne 7 ]
}

# Runs a configured command line: ha_command COMMAND, as ha.conf's user, in a new session
# (so its whole process group can be signalled), with stdin from /dev/null, output
# appended to LOG_DIR/INSTANCE.out, in MZ_HOME (or /). The command sees JAVA_HOME,
# MZ_HOME, HA_USERNAME, HA_INSTANCE, HA_PORT and HA_PID (the running group, or empty).
ha_command() {
    ha_cmdline=$1
    set -- env "JAVA_HOME=$ha_java_home" "MZ_HOME=$ha_mz_home" "HA_USERNAME=$ha_username" \
        "HA_INSTANCE=$ha_instance" "HA_PORT=$ha_port" "HA_PID=${ha_pid:-}" sh -c "$ha_cmdline"
    if [ -n "$ha_runas" ]; then
        set -- runuser -u "$ha_runas" -- "$@"
    fi
    ha_workdir=/
    if [ -n "$ha_mz_home" ] && [ -d "$ha_mz_home" ]; then
        ha_workdir=$ha_mz_home
    fi
    cd "$ha_workdir" && exec setsid "$@" </dev/null >>"$ha_out_file" 2>&1
}

# ---- waiting -------------------------------------------------------------------------

ha_now() { date +%s; }

# A short pause between polls (whole seconds where sleep has no fractions).
ha_nap() { sleep 0.2 2>/dev/null || sleep 1; }

# Waits until the process group $1 is gone, for at most $2 seconds; true when gone.
ha_wait_gone() {
    ha_deadline=$(($(ha_now) + $2))
    while ha_group_alive "$1"; do
        [ "$(ha_now)" -lt "$ha_deadline" ] || return 1
        ha_nap
    done
}

# The last line the instance wrote, to say why it failed.
ha_last_output() {
    if [ -s "$ha_out_file" ]; then
        printf '; last output: %s' "$(tail -n 1 "$ha_out_file")"
    fi
}

# ---- online, offline, clean ----------------------------------------------------------

# Starts the instance unless it runs, then waits until its HA monitor server answers UP
# (or DEGRADED) within online_timeout. Never starts a second copy.
ha_online() {
    printf 'Starting %s...' "$ha_instance"
    ha_log "online (JAVA_HOME=$ha_java_home MZ_HOME=$ha_mz_home username=$ha_username)"
    ha_note=""
    if ha_running; then
        ha_note="already running, pid $ha_pid"
        ha_log "$ha_note"
    elif ha_answers; then
        ha_failed "nothing started: port $ha_port on $ha_host already answers, but no process of ours runs (another copy, or a stale pid file $ha_pid_file?)"
        return 1
    else
        rm -f "$ha_pid_file"
        ha_pid=""
        # A subshell that exits at once: the instance is not our child, so it is reaped
        # by init and never lingers as our zombie. Without job control a background job
        # is not a process group leader, so setsid(1) calls setsid() without forking and
        # $! is the new session's leader, whose pid is also the process group id.
        ha_pid=$( (ha_command "$ha_start") >/dev/null 2>&1 &
            echo "$!")
        if ! printf '%s\n' "$ha_pid" >"$ha_pid_file.tmp" || ! mv -f "$ha_pid_file.tmp" "$ha_pid_file"; then
            ha_signal_group KILL "$ha_pid"
            ha_failed "cannot write the pid file $ha_pid_file; killed what was started"
            return 1
        fi
        ha_log "started process group $ha_pid: $ha_start"
    fi
    ha_deadline=$(($(ha_now) + ha_online_timeout))
    while :; do
        ha_left=$((ha_deadline - $(ha_now)))
        ha_wait=$ha_probe_timeout
        [ "$ha_left" -ge "$ha_wait" ] || ha_wait=$((ha_left > 0 ? ha_left : 1))
        ha_ask vcs "$ha_wait"
        if [ "$?" -eq 110 ]; then
            ha_done "$ha_note"
            return 0
        fi
        if ! ha_group_alive "$ha_pid"; then
            rm -f "$ha_pid_file"
            ha_failed "the instance exited$(ha_last_output) (see $ha_out_file)"
            return 1
        fi
        if [ "$(ha_now)" -ge "$ha_deadline" ]; then
            ha_failed "not UP after ${ha_online_timeout}s; still running as pid $ha_pid (run clean)"
            return 1
        fi
        ha_nap
    done
}

# Stops the instance gracefully: the stop command when there is one, else SIGTERM to its
# process group; waits offline_timeout for the group to go. Stopped already: done.
ha_offline() {
    printf 'Shutting down %s...' "$ha_instance"
    ha_log "offline"
    if ! ha_running; then
        if ha_answers; then
            ha_failed "no process of ours runs, but port $ha_port on $ha_host answers (started outside these scripts?)"
            return 1
        fi
        rm -f "$ha_pid_file"
        ha_done "not running"
        return 0
    fi
    ha_stopper=""
    if [ -n "$ha_stop" ]; then
        ha_log "stopping process group $ha_pid with: $ha_stop"
        (ha_command "$ha_stop") >/dev/null 2>&1 &
        ha_stopper=$!
    else
        ha_log "sending SIGTERM to process group $ha_pid"
        ha_signal_group TERM "$ha_pid"
        ha_signal_group CONT "$ha_pid" # a stopped process handles TERM only once resumed
    fi
    ha_stop_deadline=$(($(ha_now) + ha_offline_timeout))
    ha_wait_gone "$ha_pid" "$ha_offline_timeout"
    ha_gone=$?
    if [ -n "$ha_stopper" ]; then
        # The stop command is our child, in a group of its own: it may finish within
        # offline_timeout, else it is killed; then it is reaped.
        ha_left=$((ha_stop_deadline - $(ha_now)))
        if ! ha_wait_gone "$ha_stopper" "$((ha_left > 0 ? ha_left : 0))"; then
            ha_log "the stop command still runs after ${ha_offline_timeout}s: killing it"
            ha_signal_group KILL "$ha_stopper"
        fi
        wait "$ha_stopper"
        ha_log "stop command exit status $?"
    fi
    if [ "$ha_gone" -ne 0 ]; then
        ha_failed "still running after ${ha_offline_timeout}s as pid $ha_pid (run clean)"
        return 1
    fi
    if ha_answers; then
        ha_failed "process group $ha_pid is gone, but port $ha_port on $ha_host still answers"
        return 1
    fi
    rm -f "$ha_pid_file"
    ha_done
}

# What a VCS clean reason number means.
ha_clean_reason() {
    case $1 in
        '') echo "none given" ;;
        0) echo "0 (offline hung)" ;;
        1) echo "1 (offline ineffective)" ;;
        2) echo "2 (online hung)" ;;
        3) echo "3 (online ineffective)" ;;
        4) echo "4 (unexpected offline)" ;;
        5) echo "5 (monitor hung)" ;;
        *) echo "$1" ;;
    esac
}

# Kills the instance's whole process group at once (SIGKILL) and waits clean_timeout for
# it to go. Done only when no process of the group is left and the HA port refuses.
ha_clean() {
    printf 'Killing %s...' "$ha_instance"
    ha_log "clean, reason: $(ha_clean_reason "${1:-}")"
    if ha_running; then
        ha_log "sending SIGKILL to process group $ha_pid"
        ha_signal_group KILL "$ha_pid"
        if ! ha_wait_gone "$ha_pid" "$ha_clean_timeout"; then
            ha_failed "process group $ha_pid still has processes ${ha_clean_timeout}s after SIGKILL"
            return 1
        fi
    fi
    if ha_answers; then
        ha_failed "port $ha_port on $ha_host still answers (a process outside group ${ha_pid:-?})"
        return 1
    fi
    rm -f "$ha_pid_file"
    ha_done
}
