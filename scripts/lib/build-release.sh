# build-release.sh: how hamon's release is built; sourced by scripts/install, dist, package,
# build-java and test, so they all ship, and share, one build.
#
# The release is portable by default: cargo-zigbuild links it against glibc 2.17 (target
# x86_64-unknown-linux-gnu.2.17), so libhamon.so, libhamon.a, ha-probe and ha-heartbeat run
# on RHEL/CentOS 7 and every newer glibc (RHEL 8, SLES 12/15, Amazon Linux 2, Ubuntu 18.04,
# Debian 10 ...), not only on the glibc of the build machine. Cargo builds it into
# TARGET/x86_64-unknown-linux-gnu/release/ with strip = "none", because zig's linker takes
# --strip-debug (the release profile's strip = "debuginfo") for "strip everything", symbol
# table included; binutils' strip --strip-debug then gives TARGET/hamon-portable/ what the
# release profile promises: no DWARF, symbols kept (backtraces name functions). Zig (PyPI ziglang) and cargo-zigbuild are
# installed on first use with `python3 -m pip install --target` into HAMON_TOOLS_DIR (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/hamon/zig-ZIG-zigbuild-ZIGBUILD), which needs python3 with
# pip and PyPI once.
#
# HAMON_NATIVE_BUILD=1: a plain `cargo build --release` into TARGET/release/ instead, for
# development; what it builds needs the build machine's glibc or newer, so it is not for
# shipping.
#
# Functions (each exits the calling script, with a message, when it fails):
#   hamon_release_tools            installs zig and cargo-zigbuild when missing; sets
#                                  hamon_zig (the zig program) and puts cargo-zigbuild on PATH
#   hamon_build_release ROOT TARGET  builds the library (.so, whose SONAME is
#                                  libhamon.so.MAJOR, and .a), ha-probe and ha-heartbeat;
#                                  sets hamon_release_dir to the directory holding them
#                                  (TARGET/hamon-portable, or TARGET/release native). Under
#                                  a lock on TARGET: runs at once share one build.
#   hamon_check_glibc FILE...      fails, naming the symbols, when a file needs a GLIBC_
#                                  symbol version newer than the baseline (portable builds)
# Environment: CARGO (default cargo), HAMON_NATIVE_BUILD, HAMON_TOOLS_DIR, PYTHON (default
# python3), STRIP (default strip).

hamon_glibc_baseline=2.17
hamon_portable_target=x86_64-unknown-linux-gnu
hamon_ziglang_version=0.17.1
hamon_zigbuild_version=0.24.1

hamon_native_build() {
    case ${HAMON_NATIVE_BUILD:-} in
        '' | 0) return 1 ;;
        1) return 0 ;;
        *)
            echo "build-release: HAMON_NATIVE_BUILD must be 1 (a native build) or 0/unset (portable), not '$HAMON_NATIVE_BUILD'" >&2
            exit 2
            ;;
    esac
}

# hamon_locked LOCKFILE COMMAND...: COMMAND while holding an exclusive flock on LOCKFILE
# (util-linux); without flock, COMMAND alone (cargo still locks its target directory).
hamon_locked() {
    _lock=$1
    shift
    if command -v flock >/dev/null 2>&1; then
        (
            flock 9
            "$@"
        ) 9>"$_lock"
    else
        "$@"
    fi
}

hamon_release_tools() {
    _tools=${HAMON_TOOLS_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/hamon/zig-$hamon_ziglang_version-zigbuild-$hamon_zigbuild_version}
    mkdir -p "$_tools"
    hamon_locked "$_tools/.lock" hamon_install_tools "$_tools" || exit 1
    hamon_zig=$_tools/site/ziglang/zig
    PATH=$_tools/site/bin:$PATH
    # cargo-zigbuild finds zig here rather than through whichever python3 is first on PATH.
    CARGO_ZIGBUILD_ZIG_PATH=$hamon_zig
    export PATH CARGO_ZIGBUILD_ZIG_PATH
}

# hamon_install_tools DIR: pip-installs the pinned zig and cargo-zigbuild into DIR/site once
# (DIR/site/.complete marks a finished install; an interrupted one is redone).
hamon_install_tools() {
    [ -f "$1/site/.complete" ] && return 0
    _python=${PYTHON:-python3}
    command -v "$_python" >/dev/null 2>&1 || {
        echo "build-release: $_python not found: the portable build installs zig and cargo-zigbuild with pip (Debian: apt-get install python3-pip), or set HAMON_NATIVE_BUILD=1 for a build that runs only on this glibc and newer" >&2
        exit 1
    }
    rm -rf "$1/site"
    echo "build-release: installing ziglang $hamon_ziglang_version and cargo-zigbuild $hamon_zigbuild_version into $1/site" >&2
    PIP_ROOT_USER_ACTION=ignore "$_python" -m pip install --quiet --disable-pip-version-check \
        --no-warn-script-location --target "$1/site" "ziglang==$hamon_ziglang_version" \
        "cargo-zigbuild==$hamon_zigbuild_version" >&2 || {
        echo "build-release: pip could not install ziglang and cargo-zigbuild into $1/site (python3 -m pip missing? Debian: apt-get install python3-pip; no access to PyPI?), or set HAMON_NATIVE_BUILD=1" >&2
        exit 1
    }
    if [ ! -x "$1/site/ziglang/zig" ] || [ ! -x "$1/site/bin/cargo-zigbuild" ]; then
        echo "build-release: pip installed no $1/site/ziglang/zig or $1/site/bin/cargo-zigbuild" >&2
        exit 1
    fi
    : >"$1/site/.complete"
}

hamon_build_release() {
    _root=$1
    _target=$2
    mkdir -p "$_target"
    # HAMON_RELEASE_LINK=1 (hamon_cargo_in): build.rs gives the shared library its SONAME.
    if hamon_native_build; then
        hamon_locked "$_target/.hamon-release.lock" hamon_cargo_in "$_root" "$_target" \
            build --release --locked --lib --bin ha-probe --bin ha-heartbeat || exit 1
        hamon_release_dir=$_target/release
    else
        hamon_release_tools
        hamon_locked "$_target/.hamon-release.lock" hamon_portable_in "$_root" "$_target" || exit 1
        hamon_release_dir=$_target/hamon-portable
        hamon_check_glibc "$hamon_release_dir/libhamon.so" "$hamon_release_dir/ha-probe" \
            "$hamon_release_dir/ha-heartbeat"
    fi
}

# hamon_portable_in ROOT TARGET: the portable build, then its files without DWARF in
# TARGET/hamon-portable (redone for the files cargo rebuilt).
hamon_portable_in() {
    (
        CARGO_PROFILE_RELEASE_STRIP=none
        export CARGO_PROFILE_RELEASE_STRIP
        hamon_cargo_in "$1" "$2" zigbuild --release --locked \
            --target "$hamon_portable_target.$hamon_glibc_baseline" \
            --lib --bin ha-probe --bin ha-heartbeat
    ) || return 1
    _from=$2/$hamon_portable_target/release
    mkdir -p "$2/hamon-portable" || return 1
    for _file in libhamon.so ha-probe ha-heartbeat libhamon.a; do
        _to=$2/hamon-portable/$_file
        if [ -f "$_to" ] && [ -z "$(find "$_from/$_file" -newer "$_to")" ]; then
            continue
        fi
        if [ "$_file" = libhamon.a ]; then
            # As cargo leaves a staticlib: scripts/install and package strip what they ship.
            cp "$_from/$_file" "$_to.tmp" || return 1
        else
            "${STRIP:-strip}" --strip-debug -o "$_to.tmp" "$_from/$_file" || return 1
        fi
        mv -f "$_to.tmp" "$_to" || return 1
    done
}

# hamon_cargo_in ROOT TARGET ARGS...: `cargo ARGS` in ROOT with TARGET as its target directory.
# Without the variables cargo sets for the programs it runs (a test calling a script has
# them): build scripts (ring's) watch some of them, and a value there but not in a shell
# would rebuild the release each time one or the other runs it.
hamon_cargo_in() {
    (
        cd "$1" || exit 1
        _dir=$2
        shift 2
        for _var in $(env | sed -n 's/^\(CARGO_PKG_[A-Z_]*\)=.*/\1/p'); do
            unset "$_var"
        done
        unset CARGO_MANIFEST_DIR CARGO_MANIFEST_PATH CARGO_MANIFEST_LINKS CARGO_CRATE_NAME \
            CARGO_BIN_NAME CARGO_PRIMARY_PACKAGE CARGO_TARGET_TMPDIR OUT_DIR
        CARGO_TARGET_DIR=$_dir HAMON_RELEASE_LINK=1 "${CARGO:-cargo}" "$@"
    )
}

hamon_check_glibc() {
    hamon_native_build && return 0
    command -v objdump >/dev/null 2>&1 || {
        echo "build-release: objdump not found (Debian: binutils): the glibc $hamon_glibc_baseline baseline of $* is not checked" >&2
        return 0
    }
    # Lines of `objdump -T` with a GLIBC_ version newer than the baseline (or GLIBC_PRIVATE).
    _newer=$(objdump -T "$@" | awk -v base="$hamon_glibc_baseline" '
        /^[^ ].*:[ \t]+file format/ { file = $1 }
        match($0, /GLIBC_[0-9A-Z.]+/) {
            v = substr($0, RSTART + 6, RLENGTH - 6)
            split(v, have, "."); split(base, want, ".")
            newer = (v !~ /^[0-9]/) || (have[1] + 0 > want[1] + 0) ||
                (have[1] + 0 == want[1] + 0 && have[2] + 0 > want[2] + 0)
            if (newer) print "  " file " " $NF " (GLIBC_" v ")"
        }')
    if [ -n "$_newer" ]; then
        echo "build-release: these need a glibc newer than $hamon_glibc_baseline, the oldest hamon supports:" >&2
        echo "$_newer" >&2
        exit 1
    fi
}
