#!/usr/bin/env bash
# Build programs against an INSTALLED Flotilla, the way its users do, and
# run them (a CI step of scripts/test.sh):
#
#   bash scripts/check-install.sh [BUILDDIR]     (default: build)
#
# 1. `meson install` of BUILDDIR (built already) into the staging
#    directory BUILDDIR/install-check/stage (DESTDIR). The programs below
#    find that tree only through its own files: pkg-config with the
#    prefix redefined to the staged one, CMake through CMAKE_PREFIX_PATH
#    (the CMake package locates itself, so a moved tree works).
# 2. C, pkg-config: examples/demo.c and demo_algorithms.c compiled out of
#    tree with `cc $(pkg-config --cflags --libs flotilla)`, run small.
# 3. C++, CMake: examples/cmake/ (find_package(Flotilla),
#    Flotilla::flotilla, and Flotilla::flotilla_static when installed),
#    built and run through ctest.
# 4. Fortran: examples/fortran/axpy_scan.f90 with the installed module
#    source, built with gfortran and pkg-config, then with CMake
#    (flotilla_add_fortran_module), and run.
# Every program checks its own results, and each is checked to load
# libflotilla from the staged tree. Exits non-zero if anything fails; the
# other parts still run.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$FLO_ROOT" || exit 1

builddir=$(cd "${1:-build}" && pwd) || exit 1
work=$builddir/install-check
stage=$work/stage
failed=()

# part NAME COMMAND...: run one part, remember a failure.
part() {
    local name=$1
    shift
    echo "--- $name"
    if "$@"; then
        echo "--- $name: ok"
    else
        echo "--- $name: FAILED"
        failed+=("$name")
    fi
}

# The build's install directories, from meson.
option() {
    meson introspect --buildoptions "$builddir" | python3 -c '
import json, sys
opts = {o["name"]: o["value"] for o in json.load(sys.stdin)}
print(opts[sys.argv[1]])
' "$1"
}
prefix=$(option prefix) && libdir=$(option libdir) &&
    includedir=$(option includedir) || exit 1
[[ $libdir == /* ]] || libdir=$prefix/$libdir
[[ $includedir == /* ]] || includedir=$prefix/$includedir
root=$stage$prefix        # the staged prefix
slib=$stage$libdir        # the staged library directory
sinc=$stage$includedir

rm -rf "$work"
mkdir -p "$work" || exit 1
if ! meson install -C "$builddir" --destdir "$stage" --quiet \
    >"$work/install.log" 2>&1; then
    cat "$work/install.log"
    echo "check-install: meson install failed"
    exit 1
fi

# Every file the packages promise is there.
installed() {
    local f rc=0
    for f in "$sinc/flotilla.h" "$sinc/flotilla.hpp" "$sinc/flotilla.f90" \
        "$slib/pkgconfig/flotilla.pc" \
        "$slib/cmake/Flotilla/FlotillaConfig.cmake" \
        "$slib/cmake/Flotilla/FlotillaConfigVersion.cmake"; do
        if [[ ! -f $f ]]; then
            echo "missing: ${f#"$stage"}"
            rc=1
        fi
    done
    return $rc
}
part "installed files" installed

# A program loads libflotilla from the staged tree, not from the build
# tree or an older installation.
loads_staged() {
    local lib
    lib=$(ldd "$1" | awk '/libflotilla\.so/ {print $3}')
    if [[ $lib != "$slib"/* ]]; then
        echo "$1 loads libflotilla from '${lib:-nowhere}', not from $slib"
        return 1
    fi
}

export PKG_CONFIG_PATH="$slib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pc() {
    pkg-config --define-variable=prefix="$root" "$@" flotilla
}

c_pkgconfig() {
    local cflags libs
    cflags=$(pc --cflags) && libs=$(pc --libs) || return 1
    echo "pkg-config: $cflags $libs"
    # shellcheck disable=SC2086 # word splitting of the flags is intended
    "${CC:-cc}" -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra \
        -Wpedantic -Werror -DFLO_DEMO_HAVE_ALGORITHMS=1 \
        examples/demo.c examples/demo_algorithms.c $cflags \
        -o "$work/flo-demo" $libs -lm -Wl,-rpath,"$slib" || return 1
    loads_staged "$work/flo-demo" || return 1
    (cd "$work" && ./flo-demo --size 256 --tile 32 --steps 20 \
        --alg-n 100000 --trace "$work/flo-demo-trace.json")
}
part "C with pkg-config (examples/demo.c)" c_pkgconfig

# CMake, with the staged prefix first on its search path; check that it
# took the staged package.
cmake_build() {
    local src=$1 dir=$2
    cmake -S "$src" -B "$dir" -DCMAKE_PREFIX_PATH="$root" \
        -DCMAKE_BUILD_TYPE=Release >"$dir.log" 2>&1 ||
        { cat "$dir.log"; return 1; }
    grep -E 'Flotilla|MPI|CUDA' "$dir.log"
    local found
    found=$(sed -n 's/^Flotilla_DIR:PATH=//p' "$dir/CMakeCache.txt")
    if [[ $found != "$slib/cmake/Flotilla" ]]; then
        echo "CMake found Flotilla in '$found', not in the staged tree"
        return 1
    fi
    cmake --build "$dir" -j 2 || return 1
    local exe
    for exe in "$dir"/flo-*; do
        [[ -x $exe ]] || continue
        # A static build has no libflotilla.so to check.
        [[ $exe == *-static ]] || loads_staged "$exe" || return 1
    done
    (cd "$dir" && ctest --output-on-failure)
}
part "C++ with CMake (examples/cmake)" \
    cmake_build examples/cmake "$work/cmake-cxx"

fortran_pkgconfig() {
    local libs
    libs=$(pc --libs) || return 1
    mkdir -p "$work/fortran"
    # The module, compiled from the installed source.
    gfortran -std=f2018 -O2 -J "$work/fortran" \
        -c "$(pc --variable=includedir)/flotilla.f90" \
        -o "$work/fortran/flotilla.o" || return 1
    # shellcheck disable=SC2086
    gfortran -std=f2018 -O2 -J "$work/fortran" \
        examples/fortran/axpy_scan.f90 "$work/fortran/flotilla.o" \
        -o "$work/fortran/axpy_scan" $libs -Wl,-rpath,"$slib" || return 1
    loads_staged "$work/fortran/axpy_scan" || return 1
    "$work/fortran/axpy_scan"
}
part "Fortran with gfortran and pkg-config (examples/fortran)" \
    fortran_pkgconfig
part "Fortran with CMake (examples/fortran)" \
    cmake_build examples/fortran "$work/cmake-fortran"

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "check-install: FAILED: ${failed[*]}"
    exit 1
fi
echo "check-install: every program built against the installed tree and ran"
