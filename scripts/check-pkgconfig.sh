#!/usr/bin/env bash
# The pkgconfig_static test (meson.build): is flotilla.pc enough to link
# a program against the static library? Prints TAP.
#
#   check-pkgconfig.sh BUILDDIR INCLUDE_DIR EXPECT STATIC_LIB CC [CC_ARGS...]
#
# BUILDDIR    the meson build directory (its meson-uninstalled/ holds the
#             uninstalled flotilla.pc, generated like the installed one);
# INCLUDE_DIR the source tree's include/ (the uninstalled .pc's Cflags
#             point into the build tree, where no header is installed:
#             only its link line is under test);
# EXPECT      comma list of what `pkg-config --static --libs flotilla`
#             must name: hwloc, pthread, and cudart, nccl, mpi in builds
#             that have them;
# STATIC_LIB  libflotilla.a, or "none" when the build makes no static
#             library (the link check is then skipped, visibly);
# CC ...      the C compiler (and flags) to link with.
#
# 1. The static link line names every expected library.
# 2. A small program links against libflotilla.a with exactly the
#    flags pkg-config gives, and runs (flo_init on the host, finalize).
set -uo pipefail

builddir=$1
incdir=$2
expect=$3
static_lib=$4
shift 4
cc=("$@")

echo "1..2"
export PKG_CONFIG_PATH="$builddir/meson-uninstalled${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

if ! libs=$(pkg-config --static --libs flotilla 2>&1); then
    echo "not ok 1 - pkg-config --static --libs flotilla failed: $libs"
    echo "ok 2 # SKIP no link line"
    exit 1
fi
echo "# pkg-config --static --libs flotilla: $libs"

missing=()
IFS=',' read -r -a wanted <<<"$expect"
for w in "${wanted[@]}"; do
    case $w in
    hwloc) re='(^| )-lhwloc( |$)' ;;
    pthread) re='(^| )(-pthread|-lpthread)( |$)' ;;
    cudart) re='(^| )-lcudart( |$)' ;;
    nccl) re='(^| )(-lnccl|[^ ]*/libnccl\.[^ ]*)( |$)' ;;
    mpi) re='(^| )-lmpi[a-z_]*( |$)' ;;
    *) re="$w" ;;
    esac
    [[ " $libs " =~ $re ]] || missing+=("$w")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "not ok 1 - the static link line lacks: ${missing[*]}"
    rc=1
else
    echo "ok 1 - the static link line names ${expect//,/, }"
    rc=0
fi

if [[ $static_lib == none || ! -f $static_lib ]]; then
    echo "ok 2 # SKIP no static library in this build"
    exit $rc
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/main.c" <<'EOF'
#include <flotilla.h>
#include <stdio.h>

int main(void)
{
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt;
    cfg.devices = FLO_DEVICES_HOST;
    cfg.host_workers = 1;
    cfg.ignore_env = 1;
    if (flo_init(&cfg, &rt) != FLO_OK)
        return 1;
    printf("# linked statically: %d worker(s)\n", flo_worker_count(rt));
    return flo_finalize(rt) == FLO_OK ? 0 : 1;
}
EOF
# The link line as a user would write it, with the static library in
# place of -lflotilla (which would pick the shared one).
read -r -a cflags <<<"$(pkg-config --cflags flotilla)"
read -r -a ldflags <<<"${libs/-lflotilla/$static_lib}"
if ! out=$("${cc[@]}" "${cflags[@]}" -I"$incdir" "$tmp/main.c" "${ldflags[@]}" \
    -o "$tmp/main" 2>&1); then
    # A library that a dependency's own .pc lists for static links (e.g.
    # hwloc's -ludev) but that this system does not have installed is the
    # system's gap, not the line's: skip, visibly. Any other failure, or a
    # missing library of our own line, fails.
    gone=$(sed -n 's/.*cannot find -l\([A-Za-z0-9_+.-]*\).*/\1/p' <<<"$out" |
        sort -u)
    ours=" flotilla hwloc pthread cudart nccl mpi stdc++ m "
    foreign=1
    [[ -z $gone ]] && foreign=0
    for l in $gone; do
        [[ $ours == *" $l "* ]] && foreign=0
    done
    if [[ $foreign == 1 ]]; then
        echo "ok 2 # SKIP this system lacks $(echo $gone | tr ' ' ',')" \
            "(named by a dependency's .pc for static links)"
        exit $rc
    fi
    echo "not ok 2 - linking against $static_lib with that line failed:"
    sed 's/^/# /' <<<"$out" | head -40
    exit 1
fi
if ! out=$("$tmp/main" 2>&1); then
    echo "not ok 2 - the statically linked program failed:"
    sed 's/^/# /' <<<"$out"
    exit 1
fi
echo "$out"
echo "ok 2 - a program links against libflotilla.a with that line and runs"
exit $rc
