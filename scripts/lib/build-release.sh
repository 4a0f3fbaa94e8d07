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
# release profile promises: no DWARF, symbols kept (backtraces name functions).
#
# ha-probe is the exception: a cluster manager starts it every few seconds on every instance,
# and loading and relocating shared libraries made it cost 1.4x the start of any process. It
# is linked statically instead, by the system's cc against its glibc's libc.a
# (-C target-feature=+crt-static, built on its own in TARGET/hamon-static-probe so the
# library's and the daemon's builds are untouched). A static program needs no glibc on the
# host at all, only a kernel at least as new as its C library's floor (Linux 3.2 for
# Debian's glibc; RHEL/CentOS 7 runs 3.10), and it never calls the C library's resolver,
# whose NSS modules it could not load safely: ha-probe reads names from /etc/hosts itself.
# The build fails when the binary is not static or carries resolver or NSS code.
#
# Zig (PyPI ziglang) and cargo-zigbuild are installed on first use with `python3 -m pip install --target` into HAMON_TOOLS_DIR (default
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
#   hamon_build_probe ROOT TARGET  builds only the shipped, static ha-probe; sets hamon_probe
#                                  to it (TARGET/hamon-portable/ha-probe). For benchmarks.
#   hamon_check_glibc FILE...      fails, naming the symbols, when a file needs a GLIBC_
#                                  symbol version newer than the baseline (portable builds)
#   hamon_check_static FILE        fails, saying why, unless FILE is statically linked (no
#                                  program interpreter, no shared library needed), runs on
#                                  Linux 3.10 and holds no resolver or NSS function
# Environment: CARGO (default cargo), HAMON_NATIVE_BUILD, HAMON_TOOLS_DIR, PYTHON (default
# python3), STRIP (default strip).

hamon_glibc_baseline=2.17
# The oldest kernel a static ha-probe must run on: RHEL/CentOS 7's.
hamon_kernel_baseline=3.10
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
        hamon_check_glibc "$hamon_release_dir/libhamon.so" "$hamon_release_dir/ha-heartbeat"
        hamon_check_static "$hamon_release_dir/ha-probe"
    fi
}

hamon_build_probe() {
    mkdir -p "$2"
    hamon_locked "$2/.hamon-release.lock" hamon_static_probe_in "$1" "$2" || exit 1
    hamon_probe=$2/hamon-portable/ha-probe
    hamon_check_static "$hamon_probe"
}

# hamon_portable_in ROOT TARGET: the portable build, then its files without DWARF in
# TARGET/hamon-portable (redone for the files cargo rebuilt).
hamon_portable_in() {
    (
        CARGO_PROFILE_RELEASE_STRIP=none
        export CARGO_PROFILE_RELEASE_STRIP
        hamon_cargo_in "$1" "$2" zigbuild --release --locked \
            --target "$hamon_portable_target.$hamon_glibc_baseline" \
            --lib --bin ha-heartbeat
    ) || return 1
    _from=$2/$hamon_portable_target/release
    for _file in libhamon.so ha-heartbeat libhamon.a; do
        hamon_ship "$_from/$_file" "$2/hamon-portable/$_file" || return 1
    done
    hamon_static_probe_in "$1" "$2"
}

# hamon_static_probe_in ROOT TARGET: ha-probe linked statically against the system's glibc
# (libc.a) in TARGET/hamon-static-probe, without DWARF in TARGET/hamon-portable. Only the
# program is built with crt-static (`cargo rustc` passes it to the final crate alone), and
# without the library's optional features: the probe uses none of them.
hamon_static_probe_in() {
    _libc_a=$(cc -print-file-name=libc.a 2>/dev/null)
    case $_libc_a in
        /*) [ -f "$_libc_a" ] ;;
        *) false ;;
    esac || {
        echo "build-release: cc finds no libc.a to link ha-probe statically (Debian: apt-get install libc6-dev; RHEL: dnf install glibc-static)" >&2
        return 1
    }
    (
        CARGO_PROFILE_RELEASE_STRIP=none
        export CARGO_PROFILE_RELEASE_STRIP
        hamon_cargo_in "$1" "$2/hamon-static-probe" rustc --release --locked \
            --no-default-features --bin ha-probe -- -C target-feature=+crt-static
    ) || return 1
    hamon_ship "$2/hamon-static-probe/release/ha-probe" "$2/hamon-portable/ha-probe"
}

# hamon_ship FROM TO: FROM as shipped at TO, unless TO is newer already. Programs and the
# shared library lose their DWARF; the static library stays as cargo left it (scripts/install
# and package strip what they ship).
hamon_ship() {
    if [ -f "$2" ] && [ -z "$(find "$1" -newer "$2")" ]; then
        return 0
    fi
    mkdir -p "${2%/*}" || return 1
    case $2 in
        *.a) cp "$1" "$2.tmp" ;;
        *) "${STRIP:-strip}" --strip-debug -o "$2.tmp" "$1" ;;
    esac || return 1
    mv -f "$2.tmp" "$2"
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

hamon_check_static() {
    if ! command -v readelf >/dev/null 2>&1 || ! command -v nm >/dev/null 2>&1; then
        echo "build-release: readelf or nm not found (Debian: binutils): $1 is not checked" >&2
        return 0
    fi
    _why=""
    readelf -lW "$1" | grep -q 'INTERP' && _why="$_why; it names a program interpreter (ld.so)"
    readelf -dW "$1" | grep -q '(NEEDED)' && _why="$_why; it needs shared libraries"
    # The kernel the C library inside needs: the ELF note "OS: Linux, ABI: 3.2.0".
    _kernel=$(readelf -nW "$1" | sed -n 's/.*OS: Linux, ABI: \([0-9.]*\).*/\1/p')
    if [ -z "$_kernel" ]; then
        _why="$_why; it names no Linux ABI version"
    elif ! printf '%s\n%s\n' "$_kernel" "$hamon_kernel_baseline" | awk -F. '
        NR == 1 { a = $1 * 1000000 + $2 * 1000 + $3 }
        NR == 2 { b = $1 * 1000000 + $2 * 1000 + $3 }
        END { exit !(a <= b) }'; then
        _why="$_why; it needs Linux $_kernel, newer than $hamon_kernel_baseline (RHEL/CentOS 7)"
    fi
    # Functions of the C library's resolver and of NSS: static glibc would load the host's
    # NSS modules for them, built for another glibc.
    _nss=$(nm "$1" | awk '
        $2 ~ /^[TtWwi]$/ && $3 ~ /^_*(new_)?(getaddrinfo|gethostby|gethostent|getnetby|getnetent|getpw(ent|uid|nam)|getgr(ent|gid|nam|ouplist)|getsp(ent|nam)|getserv|getproto|getrpc|initgroups|nss_)/ {
            if (n++ < 5) printf "%s%s", (n > 1 ? " " : ""), $3
        }')
    [ -z "$_nss" ] || _why="$_why; it holds resolver or NSS functions ($_nss)"
    if [ -n "$_why" ]; then
        echo "build-release: $1 is not the static program it must be${_why}" >&2
        exit 1
    fi
}
