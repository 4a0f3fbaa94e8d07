# ha-common.sh: what online, offline, clean and ocf/hamon share. Sourced, never run.
#
# POSIX sh (dash, bash, ksh93, mksh, busybox sh, posh), Linux (/proc). Every variable set
# here starts with ha_, every function too. The caller sets two variables before sourcing:
#   ha_dir   the directory holding online/offline/clean, lib/ and (optionally) ha-probe
#            and ha.conf
#   ha_prog  its own name, for messages
# and, after sourcing, may change how messages name its knobs (the OCF agent names its
# parameters): ha_conf_hint, ha_probe_knob, ha_probe_hint, ha_kill_hint.
#
# Then:  ha_init JAVA_HOME MZ_HOME USERNAME INSTANCE   (reads ha.conf, checks files, finds
#        ha-probe)
# and one of  ha_online | ha_offline | ha_clean [REASON]  (print one status line each).
#
# How an instance runs: `online` starts the instance's start command with setsid(1), so
# it leads a new session and process group whose id is its pid. Its environment holds
# HA_INSTANCE_ID=INSTANCE:UUID, a fresh random marker per start. The pid file records the
# pid, the leader's start time (field 22 of /proc/PID/stat), the boot id and the marker.
# A process group is this instance only when the pid file is well formed, was written
# since the last boot, and its leader has that start time and that marker (or, once the
# leader is gone, a live member still carries the marker). Nothing is signalled unless
# that holds, and signals go to that process group only, never to pid -1 or 0: a pid file
# that names a reused pid, or holds 01, 00 or garbage, never makes a script hit another
# process. The instance is "running" while any live (non-zombie) process remains in its
# group. A process that leaves the group on purpose (setsid, a daemon's double fork) is
# not tracked: start the application in the foreground.
#
# One operation per instance at a time: online, offline, clean and the OCF agent's start
# and stop hold an exclusive flock(1) on STATE_DIR/INSTANCE.lock while they work.
#
# Files: ha.conf, the scripts' directory, ha-probe, the state and log directories (and
# every directory above them) must belong to root or to the caller and be writable by
# nobody else (a sticky directory such as /tmp may be above them). Pid, lock and log
# files are never symbolic links, always regular files of root or the caller, so no
# other user can make these scripts write through a planted link or run their commands.
#
# Exit codes used by the scripts: 0 done, 1 failed (the message says why), 2 bad
# arguments, 5 ha-probe or a needed tool missing, 6 bad configuration or unsafe files.

ha_prog=${ha_prog:-hamon}
ha_dir=${ha_dir:-.}
ha_log_file=""
ha_locked=""
# The last error or failure, in one line: the OCF agent's exit reason.
ha_reason=""
# How messages name the knobs of whoever runs these functions.
ha_conf_hint="put ha.conf next to the scripts or set HA_CONF"
ha_probe_knob=HA_PROBE
ha_probe_hint="set HA_PROBE"
ha_kill_hint="run clean"

# ---- messages ------------------------------------------------------------------------

# An error message on stderr, and in the instance log when there is one.
ha_err() {
    ha_reason=$*
    printf '%s: %s\n' "$ha_prog" "$*" >&2
    ha_log "error: $*"
}

# A timestamped line in the instance log (LOG_DIR/INSTANCE.log); silent until ha_init
# has checked that file.
ha_log() {
    if [ -n "$ha_log_file" ]; then
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
    ha_reason=$*
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
# An error goes to stderr, and to stdout as "!error" (the exit reason of the OCF agent).
function say(text) { print text > "/dev/stderr"; print "!" text }
function fail(msg) { say(sprintf("%s:%d: %s", FILENAME, FNR, msg)); bad = 1 }
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
        say(sprintf("%s: no section [%s] (instances:%s)", FILENAME, want, (names == "" ? " none" : names)))
        if (badhdr != "")
            say(sprintf("%s: unreadable section headers on lines%s (expected [name]; letters, digits, _ . -)", FILENAME, badhdr))
        exit 1
    }
    if (!(("", "ha_port") in seen) && !((want, "ha_port") in seen)) {
        say(sprintf("%s: [%s]: no ha_port (add: ha_port = PORT)", FILENAME, want))
        bad = 1
    }
    if (!(("", "start") in seen) && !((want, "start") in seen)) {
        say(sprintf("%s: [%s]: no start command (add: start = COMMAND)", FILENAME, want))
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

# ---- trust -----------------------------------------------------------------------------

# ha_mode MODE: what stat's octal mode (644, 2775, 1777) lets others do. Sets
# ha_m_writable to "everyone" or "its group" (empty when neither may write) and
# ha_m_sticky (non-empty for a sticky directory). Digits are read as text: in ksh93 and
# mksh, $((0644)) is decimal 644, not octal.
ha_mode() {
    ha_md=000$1
    ha_m_other=${ha_md#"${ha_md%?}"}
    ha_md=${ha_md%?}
    ha_m_group=${ha_md#"${ha_md%?}"}
    ha_md=${ha_md%??}
    ha_m_special=${ha_md#"${ha_md%?}"}
    ha_m_writable=""
    case $ha_m_group in [2367]) ha_m_writable="its group" ;; esac
    case $ha_m_other in [2367]) ha_m_writable="everyone" ;; esac
    ha_m_sticky=""
    case $ha_m_special in [1357]) ha_m_sticky=yes ;; esac
}

# True when the existing path $1 (resolved, no symbolic links) and every directory above
# it belong to root or to the caller and are writable by nobody else; a sticky directory
# above it (like /tmp) may be writable by others, since they cannot rename what is not
# theirs. Else sets ha_why to the first offending path and the reason.
ha_trusted() {
    # One stat for the path and all the directories above it, nearest first.
    set -- "$1"
    ha_p=$1
    while [ "$ha_p" != / ]; do
        ha_p=${ha_p%/*}
        ha_p=${ha_p:-/}
        set -- "$@" "$ha_p"
    done
    if ! ha_st=$(stat -L -c '%u %a %U %n' -- "$@" 2>/dev/null); then
        ha_why="cannot stat $1 or a directory above it"
        return 1
    fi
    ha_first=$1
    while read -r ha_o ha_m ha_owner ha_p; do
        if [ "$ha_o" -ne 0 ] && [ "$ha_o" -ne "$ha_uid" ]; then
            ha_why="$ha_p belongs to $ha_owner (uid $ha_o), not to root or $(id -un)"
            return 1
        fi
        ha_mode "$ha_m"
        if [ -n "$ha_m_writable" ] && { [ "$ha_p" = "$ha_first" ] || [ -z "$ha_m_sticky" ]; }; then
            ha_why="$ha_p is writable by $ha_m_writable (mode $ha_m)"
            return 1
        fi
    done <<EOF
$ha_st
EOF
}

# ha_trust PATH WHAT: ha_trusted on PATH with symbolic links resolved; says what is
# refused and why.
ha_trust() {
    if ! ha_real=$(readlink -e -- "$1" 2>/dev/null) || [ -z "$ha_real" ]; then
        ha_err "cannot resolve $2 $1"
        return 1
    fi
    if ! ha_trusted "$ha_real"; then
        ha_err "refusing $2 $1: $ha_why (chown root, chmod go-w)"
        return 1
    fi
}

# ha_safe_file PATH WHAT: PATH, when it exists, is a regular file (never a symbolic
# link) of root or the caller, writable by nobody else. The directory holding it has
# passed ha_trusted, so nobody else can put anything there after this check.
ha_safe_file() {
    if [ -L "$1" ]; then
        ha_err "$1 ($2) is a symbolic link: refusing to follow it (remove it)"
        return 1
    fi
    [ -e "$1" ] || return 0
    if [ ! -f "$1" ]; then
        ha_err "$1 ($2) is not a regular file: refusing to use it (remove it)"
        return 1
    fi
    if ! ha_st=$(stat -c '%u %a %U' -- "$1" 2>/dev/null); then
        ha_err "cannot stat $1 ($2)"
        return 1
    fi
    set -f
    # shellcheck disable=SC2086 # split "uid mode owner"
    set -- "$1" "$2" $ha_st
    set +f
    if [ "$3" -ne 0 ] && [ "$3" -ne "$ha_uid" ]; then
        ha_err "$1 ($2) belongs to $5 (uid $3), not to root or $(id -un): refusing to use it"
        return 1
    fi
    ha_mode "$4"
    if [ -n "$ha_m_writable" ]; then
        ha_err "$1 ($2) is writable by group or others (mode $4): refusing to use it"
        return 1
    fi
}

# ha_state_directory PATH SETTING: creates PATH when missing (mode 755), checks it with
# ha_trusted and that we can write it; sets ha_path to it, resolved.
ha_state_directory() {
    if [ ! -d "$1" ] && ! (umask 022 && mkdir -p -- "$1") 2>/dev/null; then
        ha_err "cannot create the directory $1 ($2 in $ha_conf)"
        return 1
    fi
    if ! ha_path=$(CDPATH='' cd -P -- "$1" 2>/dev/null && pwd) || [ -z "$ha_path" ]; then
        ha_err "cannot enter the directory $1 ($2 in $ha_conf)"
        return 1
    fi
    if ! ha_trusted "$ha_path"; then
        ha_err "refusing the directory $1 ($2 in $ha_conf): $ha_why (chown root, chmod go-w)"
        return 1
    fi
    if [ ! -w "$ha_path" ]; then
        ha_err "cannot write the directory $1 ($2 in $ha_conf)"
        return 1
    fi
}

# ---- configuration and set-up ----------------------------------------------------------

# ha_init JAVA_HOME MZ_HOME USERNAME INSTANCE: reads the instance's settings, checks the
# files it trusts, creates its log and state directories, finds ha-probe. Returns 0, 2
# (bad instance name), 5 (no ha-probe, setsid, flock, setpriv or ps) or 6 (configuration
# error or unsafe files), with the reason on stderr. On failure ha_fail says what failed:
#   noconf  ha.conf is missing or unreadable
#   conf    ha.conf is wrong, or the instance is not in it
#   trust   ha.conf, the scripts or ha-probe may be changed by another user
#   files   the state or log directory or a file in it is missing, unwritable or unsafe
#   tools   ha-probe or a tool is missing
# Once the settings are read (ha_fail is trust, files or tools) ha_pid_file is known.
ha_init() {
    ha_java_home=$1
    ha_mz_home=$2
    ha_username=$3
    ha_instance=$4
    ha_log_file=""
    ha_pid_file=""
    ha_fail=conf
    ha_uid=$(id -u) || return 5
    case $ha_instance in
        '' | *[!A-Za-z0-9_.-]*)
            ha_err "bad instance name \"$ha_instance\" (letters, digits, _ . - only)"
            return 2
            ;;
    esac
    ha_conf=${HA_CONF:-$ha_dir/ha.conf}
    if [ ! -f "$ha_conf" ] || [ ! -r "$ha_conf" ]; then
        ha_fail=noconf
        ha_err "cannot read $ha_conf ($ha_conf_hint)"
        return 6
    fi
    # Its commands run with this script's privileges, and this script runs from its
    # directory: nobody else may be able to change either.
    ha_fail=trust
    ha_trust "$ha_conf" "the configuration" || return 6
    ha_trust "$ha_dir/lib/ha-common.sh" "the scripts' library" || return 6
    for ha_f in online offline clean ocf/hamon; do
        if [ -e "$ha_dir/$ha_f" ]; then
            ha_trust "$ha_dir/$ha_f" "the script" || return 6
        fi
    done
    ha_fail=conf
    if ! ha_settings=$(HA_WANT=$ha_instance awk "$ha_conf_awk" "$ha_conf"); then
        # awk has shown every mistake on stderr; the first one is the reason.
        ha_reason=$(printf '%s\n' "$ha_settings" | sed -n 's/^!//p' | head -n 1)
        ha_reason=${ha_reason:-"cannot read $ha_conf"}
        ha_log "error: $ha_reason"
        return 6
    fi

    ha_start="" ha_stop="" ha_user="" ha_pid_file="" ha_host="" ha_port=""
    # Defaults that fit the OCF agent's advised 60 s for start and stop.
    ha_online_timeout=50 ha_offline_timeout=40 ha_clean_timeout=10 ha_probe_timeout=5
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
    case ${ha_pid_file##*/} in
        '' | . | ..)
            ha_err "$ha_conf: [$ha_instance] pid_file = $ha_pid_file is not a file name"
            return 6
            ;;
    esac
    # The longest any one operation takes: how long another one waits for the lock.
    ha_lock_wait=$ha_online_timeout
    for ha_t in "$ha_offline_timeout" "$ha_clean_timeout"; do
        [ "$ha_t" -le "$ha_lock_wait" ] || ha_lock_wait=$ha_t
    done
    ha_lock_wait=$((ha_lock_wait + 2 * ha_probe_timeout + 5))

    # From here on the pid file is known: the OCF agent can tell whether the instance
    # runs even when what follows fails.
    ha_fail=files
    ha_state_directory "$ha_log_dir" log_dir || return 6
    ha_log_dir=$ha_path
    ha_state_directory "$ha_state_dir" state_dir || return 6
    ha_state_dir=$ha_path
    ha_state_directory "${ha_pid_file%/*}/" pid_file || return 6
    ha_pid_file=$ha_path/${ha_pid_file##*/}
    ha_lock_file=$ha_state_dir/$ha_instance.lock
    ha_safe_file "$ha_log_dir/$ha_instance.log" "the scripts' log" || return 6
    ha_safe_file "$ha_log_dir/$ha_instance.out" "the instance's output" || return 6
    ha_safe_file "$ha_lock_file" "the lock file" || return 6
    ha_safe_file "$ha_pid_file" "the pid file" || return 6
    ha_log_file=$ha_log_dir/$ha_instance.log
    ha_out_file=$ha_log_dir/$ha_instance.out

    # Run as ha.conf's user through setpriv, which changes user and execs: the
    # application itself leads the process group, receives SIGTERM and gets all of its
    # shutdown time (runuser and su stay behind as a root parent that cuts it short).
    ha_fail=tools
    ha_runas=""
    if [ -n "$ha_user" ] && [ "$ha_user" != "$(id -un)" ]; then
        if [ "$ha_uid" -ne 0 ]; then
            ha_fail=conf
            ha_err "[$ha_instance] user = $ha_user: only root can run commands as another user"
            return 6
        fi
        if ! ha_run_gid=$(id -g -- "$ha_user" 2>/dev/null); then
            ha_fail=conf
            ha_err "[$ha_instance] user = $ha_user: no such user"
            return 6
        fi
        if ! command -v setpriv >/dev/null 2>&1; then
            ha_err "[$ha_instance] user = $ha_user: setpriv (util-linux) is not installed"
            return 5
        fi
        ha_run_home=$(getent passwd "$ha_user" 2>/dev/null | cut -d: -f6)
        ha_runas=$ha_user
    fi
    for ha_tool in setsid:util-linux flock:util-linux ps:procps; do
        if ! command -v "${ha_tool%%:*}" >/dev/null 2>&1; then
            ha_err "${ha_tool%%:*} (package ${ha_tool#*:}) is not installed: it is needed to run, lock and track the instance"
            return 5
        fi
    done
    ha_find_probe || return 5
    ha_fail=trust
    ha_trust "$ha_probe" "ha-probe" || return 6
    # shellcheck disable=SC2034 # read by ocf/hamon
    ha_fail=""
}

# ha-probe: $HA_PROBE when set (it must then be executable: no silent fallback), else
# next to the scripts, else on PATH. Sets ha_probe.
ha_find_probe() {
    if [ -n "${HA_PROBE:-}" ]; then
        ha_probe=$HA_PROBE
        if [ ! -f "$ha_probe" ] || [ ! -x "$ha_probe" ]; then
            ha_err "$ha_probe_knob=$ha_probe is not an executable file"
            return 1
        fi
    elif [ -f "$ha_dir/ha-probe" ] && [ -x "$ha_dir/ha-probe" ]; then
        ha_probe=$ha_dir/ha-probe
    elif ha_probe=$(command -v ha-probe 2>/dev/null) && [ -n "$ha_probe" ]; then
        :
    else
        ha_err "ha-probe not found: $ha_probe_hint, or put it next to the scripts ($ha_dir) or on PATH"
        return 1
    fi
}

# ---- one operation at a time -----------------------------------------------------------

# Takes the instance's lock (an exclusive flock on STATE_DIR/INSTANCE.lock, held on file
# descriptor 9 until this script exits), waiting for another operation at most as long
# as the longest one may take. The instance's own processes never inherit it. On
# failure ha_why says why.
ha_lock() {
    [ -z "$ha_locked" ] || return 0
    if ! ha_safe_file "$ha_lock_file" "the lock file"; then
        ha_why="unsafe lock file $ha_lock_file"
        return 1
    fi
    if ! { command exec 9>>"$ha_lock_file"; } 2>/dev/null; then
        ha_why="cannot open the lock file $ha_lock_file"
        return 1
    fi
    # flock(1) locks the open file that descriptor 9 holds, so the lock lasts as long as
    # this shell keeps 9 open. It gets that file as its descriptor 8: ksh93 and mksh open
    # descriptors above 2 close-on-exec, so a command never inherits 9 itself.
    if ! flock -n 8 8>&9; then
        ha_log "waiting up to ${ha_lock_wait}s for another operation on $ha_instance (lock $ha_lock_file)"
        if ! flock -w "$ha_lock_wait" 8 8>&9; then
            ha_why="another operation on $ha_instance still holds $ha_lock_file after ${ha_lock_wait}s; nothing done"
            return 1
        fi
    fi
    ha_locked=yes
}

# ---- time --------------------------------------------------------------------------------

# Sets ha_t to the time in centiseconds since boot (/proc/uptime), so that deadlines are
# not rounded to whole seconds; date's seconds where /proc/uptime cannot be read.
ha_now() {
    ha_s="" ha_cs=""
    IFS=' .' read -r ha_s ha_cs _ </proc/uptime 2>/dev/null || true
    case $ha_s:$ha_cs in
        '':* | *[!0-9:]*) ha_cs="" ;;
    esac
    case $ha_cs in
        [0-9][0-9]) ha_t=$((ha_s * 100 + 1$ha_cs - 100)) ;; # 1$ha_cs: no octal 08
        *) ha_t=$(($(date +%s) * 100)) ;;
    esac
}

# Centiseconds $1 as seconds with two decimals (for ha-probe --timeout and messages).
ha_secs() {
    printf '%d.%02d' $(($1 / 100)) $(($1 % 100))
}

# A short pause between polls (whole seconds where sleep has no fractions).
ha_nap() { sleep "${1:-0.2}" 2>/dev/null || sleep 1; }

# ---- the pid file and the instance's identity --------------------------------------------

# ha_proc_stat PID: sets ha_p_state, ha_p_pgrp and ha_p_start (fields 3, 5 and 22 of
# /proc/PID/stat); fails when there is no such process.
ha_proc_stat() {
    IFS= read -r ha_stat <"/proc/$1/stat" 2>/dev/null || return 1
    # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    ha_stat=${ha_stat##*") "}
    set -f
    # shellcheck disable=SC2086 # the fields, split on blanks
    set -- $ha_stat
    set +f
    [ "$#" -ge 20 ] || return 1
    ha_p_state=$1 ha_p_pgrp=$3
    shift 19
    ha_p_start=$1
}

# True when process $1 carries the marker $ha_marker in its environment as started.
ha_has_marker() {
    tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | grep -qxF -- "$ha_marker"
}

# Reads a /proc/sys file whole (sh's read takes a byte at a time, and sysctl files answer
# nothing at an offset past 0).
ha_sysctl() {
    cat -- "/proc/sys/$1" 2>/dev/null
}

ha_boot_id() {
    ha_boot=$(ha_sysctl kernel/random/boot_id) || ha_boot=""
}

# Reads and checks the pid file. Returns 0 (ha_pid, ha_pid_start, ha_pid_boot and
# ha_marker set; ha_pid_text holds the whole text), 1 when there is none, 2 when it is
# unusable (ha_pid_bad says why). Nothing in it is trusted until ha_identify agrees.
#   PID                          2 ... pid_max, no sign, blank or leading zero
#   start_time=TICKS             field 22 of /proc/PID/stat when online started it
#   boot_id=UUID                 /proc/sys/kernel/random/boot_id then
#   instance_id=INSTANCE:UUID    the marker HA_INSTANCE_ID in the instance's environment
ha_read_pid() {
    ha_pid="" ha_pid_start="" ha_pid_boot="" ha_marker="" ha_pid_bad="" ha_pid_text=""
    [ -e "$ha_pid_file" ] || [ -L "$ha_pid_file" ] || return 1
    if ! ha_safe_file "$ha_pid_file" "the pid file"; then
        ha_pid_bad="not a plain file of ours"
        return 2
    fi
    if ! ha_pid_text=$(head -c 512 -- "$ha_pid_file" 2>/dev/null); then
        ha_pid_bad="unreadable"
        return 2
    fi
    ha_n=0
    while IFS= read -r ha_line; do
        ha_n=$((ha_n + 1))
        case $ha_n:$ha_line in
            1:*) ha_pid=$ha_line ;;
            2:start_time=*) ha_pid_start=${ha_line#start_time=} ;;
            3:boot_id=*) ha_pid_boot=${ha_line#boot_id=} ;;
            4:instance_id=*) ha_marker=HA_INSTANCE_ID=${ha_line#instance_id=} ;;
            *) ha_n=99 ;;
        esac
    done <<EOF
$ha_pid_text
EOF
    ha_pid_max=$(ha_sysctl kernel/pid_max)
    case $ha_pid_max in '' | *[!0-9]*) ha_pid_max=4194304 ;; esac
    case $ha_pid in
        '' | *[!0-9]* | 0* | ????????*) ha_pid_bad="\"$ha_pid\" is not a process id" ;;
        1) ha_pid_bad="pid 1 is init, never an instance" ;;
        *) [ "$ha_pid" -lt "$ha_pid_max" ] || ha_pid_bad="$ha_pid is above pid_max" ;;
    esac
    if [ -z "$ha_pid_bad" ] && [ "$ha_n" -ne 4 ]; then
        ha_pid_bad="expected 4 lines: pid, start_time=, boot_id=, instance_id= (written by an older version?)"
    fi
    if [ -z "$ha_pid_bad" ]; then
        case $ha_pid_start in
            0 | [1-9] | [1-9]*[0-9]) case $ha_pid_start in *[!0-9]* | ?????????????????????*) ha_pid_bad="bad start_time" ;; esac ;;
            *) ha_pid_bad="bad start_time" ;;
        esac
        case $ha_pid_boot in
            *[!0-9a-f-]* | '') ha_pid_bad="bad boot_id" ;;
        esac
        case ${ha_marker#HA_INSTANCE_ID="$ha_instance":} in
            *[!0-9a-f-]* | '' | HA_INSTANCE_ID=*) ha_pid_bad="bad instance_id (not of $ha_instance?)" ;;
        esac
    fi
    if [ -n "$ha_pid_bad" ]; then
        ha_pid=""
        return 2
    fi
}

# Is the process group named by the pid file (already read) this instance? Returns
#   0 yes, and it has live processes
#   1 no live process left in the group (or the pid file is from before the last boot)
#   3 its live processes are not this instance (a reused pid): ha_why says how we know
#   4 cannot tell (ps failed)
# The leader, when alive, must have the recorded start time and the marker; once it is
# gone, any live member with the marker will do (the group id cannot be reused while a
# member lives).
ha_identify() {
    ha_why=""
    ha_boot_id
    if [ "$ha_pid_boot" != "$ha_boot" ]; then
        ha_why="the pid file was written before the last boot"
        return 1
    fi
    if ! ha_ps=$(ps -e -o pid= -o pgid= -o stat=); then
        ha_why="ps failed"
        return 4
    fi
    ha_members=$(printf '%s\n' "$ha_ps" |
        awk -v g="$ha_pid" '$2 == g "" && $3 !~ /^[ZX]/ { printf " %s", $1 }')
    [ -n "$ha_members" ] || return 1
    if ha_proc_stat "$ha_pid" && [ "$ha_p_pgrp" = "$ha_pid" ] && [ "$ha_p_state" != Z ]; then
        if [ "$ha_p_start" != "$ha_pid_start" ]; then
            ha_why="pid $ha_pid started at tick $ha_p_start, the instance at tick $ha_pid_start"
            return 3
        fi
        if ! ha_has_marker "$ha_pid"; then
            ha_why="pid $ha_pid lacks $ha_marker in its environment"
            return 3
        fi
        return 0
    fi
    for ha_m in $ha_members; do
        if ha_has_marker "$ha_m"; then
            return 0
        fi
    done
    ha_why="process group $ha_pid has processes ($ha_members ) without $ha_marker"
    return 3
}

# True when the instance runs (pid file read and identified); sets ha_pid.
ha_running() {
    ha_read_pid && ha_identify
}

# True while process group $1 has a live member. Zombies do not count: an exited process
# whose parent has not reaped it yet runs nothing and holds no port. When ps fails we
# cannot tell, and say "alive": never a false "stopped". Used once the group was
# identified and signalled: its id cannot be reused while a member lives.
ha_group_alive() {
    if ! ha_ps=$(ps -e -o pgid= -o stat=); then
        ha_log "ps failed: process group $1 counts as alive"
        return 0
    fi
    printf '%s\n' "$ha_ps" |
        awk -v g="$1" '$1 == g "" && $2 !~ /^[ZX]/ { found = 1 } END { exit !found }'
}

# Sends signal $1 to the whole process group $2; only ever called right after the group
# was identified as this instance (or for a stop command we started and have not reaped).
# A group id that is not a plain number above 1 is refused: kill -- -1 would signal every
# process, kill -- -0 our own group.
ha_signal_group() {
    case $2 in
        '' | *[!0-9]* | 0* | 1)
            ha_err "refusing to signal process group \"$2\""
            return 1
            ;;
    esac
    kill -s "$1" -- "-$2" 2>/dev/null
}

# Removes the pid file if it still holds what we read or wrote ($1): never another
# operation's file.
ha_remove_pid_file() {
    ha_now_text=$(head -c 512 -- "$ha_pid_file" 2>/dev/null) || return 0
    if [ "$ha_now_text" = "$1" ] && [ ! -L "$ha_pid_file" ]; then
        rm -f -- "$ha_pid_file"
    else
        ha_log "the pid file $ha_pid_file changed meanwhile: left as it is"
    fi
}

# ha_check_pid_file: what the pid file says, for online, offline and clean. Returns 0
# when the instance runs (ha_pid set), 1 when it does not (a stale or unusable pid file
# is reported and removed), 4 when we cannot tell.
ha_check_pid_file() {
    ha_read_pid
    case $? in
        0) ;;
        1) return 1 ;;
        *)
            # Not a file these scripts wrote: kept aside for whoever wants to know where
            # it came from, out of the way of the next start.
            ha_err "unusable pid file $ha_pid_file: $ha_pid_bad; nothing signalled, moved to $ha_pid_file.bad (it held: $(printf '%s' "$ha_pid_text" | head -n 1 | cut -c 1-40))"
            ha_now_text=$(head -c 512 -- "$ha_pid_file" 2>/dev/null) || ha_now_text=""
            if [ "$ha_now_text" = "$ha_pid_text" ] && [ ! -L "$ha_pid_file" ] && [ -f "$ha_pid_file" ]; then
                mv -fT -- "$ha_pid_file" "$ha_pid_file.bad" || ha_err "cannot move $ha_pid_file aside"
            fi
            return 1
            ;;
    esac
    ha_identify
    case $? in
        0) return 0 ;;
        1)
            ha_log "stale pid file $ha_pid_file (pid $ha_pid): no process of the instance is left${ha_why:+ ($ha_why)}; removed"
            ha_remove_pid_file "$ha_pid_text"
            return 1
            ;;
        3)
            ha_err "the pid file $ha_pid_file names pid $ha_pid, which is not this instance: $ha_why; nothing signalled, file removed"
            ha_remove_pid_file "$ha_pid_text"
            return 1
            ;;
        *)
            ha_err "cannot tell whether pid $ha_pid is this instance: $ha_why"
            return 4
            ;;
    esac
}

# ---- commands, the HA port ---------------------------------------------------------------

# Asks the instance's HA monitor server: ha_ask FORMAT SECONDS; returns ha-probe's code.
ha_ask() {
    "$ha_probe" --host "$ha_host" --port "$ha_port" --timeout "$2" --format "$1" --quiet 9>&-
}

# ha_ask with what the server said: ha_ask_line FORMAT SECONDS sets ha_reply to ha-probe's
# line (the state line, or "FAILED: why") and ha_said to it in words for a message
# ("DOWN: db: refused"); returns ha-probe's code.
ha_ask_line() {
    ha_reply=$("$ha_probe" --host "$ha_host" --port "$ha_port" --timeout "$2" --format "$1" 9>&-)
    ha_rc=$?
    ha_reply=$(printf '%s\n' "$ha_reply" | head -n 1)
    ha_describe_reply
    return "$ha_rc"
}

# Sets ha_state to the state word of ha_reply (empty when the server did not answer) and
# ha_said to "STATE: reason" (the server's own reason, unquoted), "STATE", or ha-probe's
# "why" when there was no answer.
ha_describe_reply() {
    ha_state=""
    case $ha_reply in
        '')
            ha_said="no answer (ha-probe exit code $ha_rc)"
            return 0
            ;;
        'FAILED: '*)
            ha_said="no answer (${ha_reply#FAILED: })"
            return 0
            ;;
        [A-Z]*' v='*) ha_state=${ha_reply%% *} ;;
        *)
            ha_said="unexpected answer \"$ha_reply\""
            return 0
            ;;
    esac
    case $ha_reply in
        *' reason='*)
            ha_said="$ha_state: $(printf '%s\n' "${ha_reply#* reason=}" |
                sed 's/^"//; s/"$//; s/\\\(.\)/\1/g')"
            ;;
        *) ha_said=$ha_state ;;
    esac
}

# True when anything answers on the instance's HA port (anything but "connection refused":
# a hung process that holds the port open counts as answering).
ha_answers() {
    ha_ask ocf 2
    [ "$?" -ne 7 ]
}

# Runs a configured command line: ha_command COMMAND [MARKER], as ha.conf's user, in a
# new session (so its whole process group can be signalled), with stdin from /dev/null,
# output appended to LOG_DIR/INSTANCE.out, in MZ_HOME (or /), without the lock. The
# command sees JAVA_HOME, MZ_HOME, HA_USERNAME, HA_INSTANCE, HA_PORT, HA_PID (the running
# group, or empty) and, for start, the marker HA_INSTANCE_ID. Every step execs the next
# (setsid does not fork here: a background job is no group leader), so the command's
# shell, and what it execs, keeps the pid $! and leads the group.
ha_command() {
    ha_cmdline=$1
    ha_cmd_marker=${2:-}
    set -- sh -c "$ha_cmdline"
    if [ -n "$ha_runas" ]; then
        set -- setpriv --reuid="$ha_runas" --regid="$ha_run_gid" --init-groups -- "$@"
        set -- "HOME=${ha_run_home:-/}" "USER=$ha_runas" "LOGNAME=$ha_runas" "$@"
    fi
    set -- env "JAVA_HOME=$ha_java_home" "MZ_HOME=$ha_mz_home" "HA_USERNAME=$ha_username" \
        "HA_INSTANCE=$ha_instance" "HA_PORT=$ha_port" "HA_PID=${ha_pid:-}" ${ha_cmd_marker:+"$ha_cmd_marker"} "$@"
    ha_workdir=/
    if [ -n "$ha_mz_home" ] && [ -d "$ha_mz_home" ]; then
        ha_workdir=$ha_mz_home
    fi
    cd "$ha_workdir" && exec setsid "$@" </dev/null >>"$ha_out_file" 2>&1 9>&-
}

# The last line the instance wrote, to say why it failed.
ha_last_output() {
    if [ -s "$ha_out_file" ]; then
        printf '; last output: %s' "$(tail -n 1 "$ha_out_file")"
    fi
}

# Waits until process group $1 has no live member, until ha_t reaches $2 (centiseconds);
# true when gone.
ha_wait_gone() {
    while ha_group_alive "$1"; do
        ha_now
        [ "$ha_t" -lt "$2" ] || return 1
        ha_nap
    done
}

# ---- online, offline, clean ----------------------------------------------------------

# Starts the instance and records who it is: sets ha_pid and writes the pid file.
ha_start_instance() {
    ha_uuid=$(ha_sysctl kernel/random/uuid) || ha_uuid=""
    case $ha_uuid in
        '' | *[!0-9a-f-]*)
            ha_failed "cannot read /proc/sys/kernel/random/uuid for the instance's marker"
            return 1
            ;;
    esac
    ha_marker=HA_INSTANCE_ID=$ha_instance:$ha_uuid
    ha_pid=""
    # Without job control a background job is not a process group leader, so setsid(1)
    # calls setsid() without forking and $! is the new session's leader, whose pid is also
    # the process group id. (Not inside $(...): ksh93 waits there for background jobs.)
    # Should it die while we run, it is our zombie until we exit: zombies never count as
    # running.
    (ha_command "$ha_start" "$ha_marker") >/dev/null 2>&1 &
    ha_pid=$!
    # Its start time, once it has exec'd with the marker (a few milliseconds).
    ha_now
    ha_until=$((ha_t + 500))
    ha_pid_start=""
    while ha_proc_stat "$ha_pid" && [ "$ha_p_state" != Z ]; do
        if [ "$ha_p_pgrp" = "$ha_pid" ] && ha_has_marker "$ha_pid"; then
            ha_pid_start=$ha_p_start
            break
        fi
        ha_now
        [ "$ha_t" -lt "$ha_until" ] || break
        ha_nap 0.01
    done
    if [ -z "$ha_pid_start" ]; then
        ha_pid_text=""
        return 0 # it exited already (or never took its marker): the caller says so
    fi
    ha_boot_id
    ha_pid_text=$(printf '%s\nstart_time=%s\nboot_id=%s\ninstance_id=%s' "$ha_pid" \
        "$ha_pid_start" "$ha_boot" "${ha_marker#HA_INSTANCE_ID=}")
    ha_tmp=$(umask 022 && mktemp -- "${ha_pid_file%/*}/.${ha_pid_file##*/}.XXXXXX" 2>/dev/null) || ha_tmp=""
    if [ -z "$ha_tmp" ] || ! printf '%s\n' "$ha_pid_text" >"$ha_tmp" ||
        ! chmod 644 -- "$ha_tmp" || ! mv -fT -- "$ha_tmp" "$ha_pid_file"; then
        [ -z "$ha_tmp" ] || rm -f -- "$ha_tmp"
        ha_signal_group KILL "$ha_pid"
        ha_failed "cannot write the pid file $ha_pid_file; killed what was started"
        return 1
    fi
    ha_log "started process group $ha_pid (start time $ha_pid_start): $ha_start"
}

# Starts the instance unless it runs, then waits until its HA monitor server answers UP
# (or DEGRADED) within ha_online_wait seconds (online_timeout unless the caller shortens
# it). Never starts a second copy. ha_online DOWNS: with DOWNS > 0, gives up as soon as
# the instance has answered DOWN that many times in a row, a second apart: it is up, its
# own checks fail, and waiting longer only delays the cluster manager's recovery.
ha_online() {
    ha_down_limit=${1:-0}
    printf 'Starting %s...' "$ha_instance"
    ha_log "online (JAVA_HOME=$ha_java_home MZ_HOME=$ha_mz_home username=$ha_username)"
    if ! ha_lock; then
        ha_failed "$ha_why"
        return 1
    fi
    ha_now
    ha_deadline=$((ha_t + ${ha_online_wait:-$ha_online_timeout} * 100))
    ha_note=""
    ha_downs=0
    ha_check_pid_file
    case $? in
        0)
            ha_note="already running, pid $ha_pid"
            ha_log "$ha_note"
            ;;
        4)
            ha_failed "nothing started: cannot tell whether pid $ha_pid still runs ($ha_why)"
            return 1
            ;;
        *)
            if ha_answers; then
                ha_failed "nothing started: port $ha_port on $ha_host already answers, but no process of ours runs (another copy?)"
                return 1
            fi
            ha_start_instance || return 1
            ;;
    esac
    while :; do
        ha_now
        ha_left=$((ha_deadline - ha_t))
        ha_wait=$((ha_probe_timeout * 100))
        [ "$ha_left" -ge "$ha_wait" ] || ha_wait=$((ha_left > 10 ? ha_left : 10))
        ha_ask_line vcs "$(ha_secs "$ha_wait")"
        if [ "$?" -eq 110 ]; then
            ha_done "$ha_note"
            return 0
        fi
        if [ -z "$ha_pid_text" ] || ! ha_group_alive "$ha_pid"; then
            [ -z "$ha_pid_text" ] || ha_remove_pid_file "$ha_pid_text"
            ha_failed "the instance exited$(ha_last_output) (see $ha_out_file)"
            return 1
        fi
        if [ "$ha_state" = DOWN ]; then
            ha_downs=$((ha_downs + 1))
        else
            ha_downs=0
        fi
        if [ "$ha_down_limit" -gt 0 ] && [ "$ha_downs" -ge "$ha_down_limit" ]; then
            ha_failed "$ha_said (answered $ha_downs times in a row); still running as pid $ha_pid ($ha_kill_hint)"
            return 1
        fi
        ha_now
        if [ "$ha_t" -ge "$ha_deadline" ]; then
            ha_failed "not UP after ${ha_online_wait:-$ha_online_timeout}s, last: $ha_said; still running as pid $ha_pid ($ha_kill_hint)"
            return 1
        fi
        if [ "$ha_downs" -gt 0 ]; then ha_nap 1; else ha_nap; fi
    done
}

# After the instance's group is gone: the pid file goes (so its pid cannot be mistaken
# later), then the HA port must refuse.
ha_gone_port() {
    ha_remove_pid_file "$ha_pid_text"
    if ha_answers; then
        ha_failed "process group $ha_pid is gone, but port $ha_port on $ha_host still answers"
        return 1
    fi
    ha_done
}

# Stops the instance gracefully: the stop command when there is one, else SIGTERM to its
# process group; waits offline_timeout for the group to go. Stopped already: done.
ha_offline() {
    printf 'Shutting down %s...' "$ha_instance"
    ha_log "offline"
    if ! ha_lock; then
        ha_failed "$ha_why"
        return 1
    fi
    ha_now
    ha_stop_deadline=$((ha_t + ${ha_offline_wait:-$ha_offline_timeout} * 100))
    ha_check_pid_file
    case $? in
        0) ;;
        4)
            ha_failed "cannot tell whether pid $ha_pid runs ($ha_why); nothing signalled"
            return 1
            ;;
        *)
            if ha_answers; then
                ha_failed "no process of ours runs, but port $ha_port on $ha_host answers (started outside these scripts?)"
                return 1
            fi
            ha_done "not running"
            return 0
            ;;
    esac
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
    ha_wait_gone "$ha_pid" "$ha_stop_deadline"
    ha_gone=$?
    if [ -n "$ha_stopper" ]; then
        # The stop command is our child, in a group of its own: it may finish within
        # offline_timeout, else it is killed; then it is reaped.
        if ! ha_wait_gone "$ha_stopper" "$ha_stop_deadline"; then
            ha_log "the stop command still runs after ${ha_offline_wait:-$ha_offline_timeout}s: killing it"
            ha_signal_group KILL "$ha_stopper"
        fi
        wait "$ha_stopper"
        ha_log "stop command exit status $?"
    fi
    if [ "$ha_gone" -ne 0 ]; then
        ha_failed "still running after ${ha_offline_wait:-$ha_offline_timeout}s as pid $ha_pid ($ha_kill_hint)"
        return 1
    fi
    ha_gone_port
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
    if ! ha_lock; then
        ha_failed "$ha_why"
        return 1
    fi
    ha_check_pid_file
    case $? in
        0) ;;
        4)
            ha_failed "cannot tell whether pid $ha_pid runs ($ha_why); nothing signalled"
            return 1
            ;;
        *)
            if ha_answers; then
                ha_failed "port $ha_port on $ha_host answers, but no process of ours runs"
                return 1
            fi
            ha_done
            return 0
            ;;
    esac
    ha_log "sending SIGKILL to process group $ha_pid"
    ha_signal_group KILL "$ha_pid"
    ha_now
    if ! ha_wait_gone "$ha_pid" "$((ha_t + ha_clean_timeout * 100))"; then
        ha_failed "process group $ha_pid still has processes ${ha_clean_timeout}s after SIGKILL"
        return 1
    fi
    ha_gone_port
}
