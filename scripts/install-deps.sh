#!/usr/bin/env bash
# Install the Debian 12 packages Flotilla needs to build and test:
# compiler, meson/ninja, hwloc (with its PCI plugins), CMocka, Open MPI,
# python3 (JSON checks, tools/flo-trace, the Python package and its tests),
# matplotlib (the plots of scripts/plot-bench.py), Graphviz (the test
# that renders the task graph), Doxygen (the API reference,
# scripts/docs.sh), gfortran and CMake (the Fortran module, and
# the programs built against the installed tree: scripts/check-install.sh).
# Idempotent: packages already installed are left alone, and the package
# lists are refreshed (once) only when something is missing.
# Runs as root, or through sudo when available.
set -euo pipefail

PACKAGES=(
    build-essential
    meson
    ninja-build
    pkg-config
    libhwloc-dev
    libhwloc-plugins
    # hwloc.pc lists -ludev for static links (pkgconfig_static test).
    libudev-dev
    libcmocka-dev
    libopenmpi-dev
    openmpi-bin
    python3
    # scripts/plot-bench.py and the docs/perf plots check (scripts/test.sh).
    python3-matplotlib
    # The Python package (python/): its tests, NumPy, and pip to install
    # it (scripts/check-python-install.sh).
    python3-numpy
    python3-pytest
    python3-pip
    python3-setuptools
    python3-wheel
    # The Fortran module's test and example; CMake builds examples/cmake
    # and examples/fortran against the installed CMake package.
    gfortran
    cmake
    # CBLAS and LAPACKE for examples/cholesky and bench/cholesky.
    libopenblas-dev
    liblapacke-dev
    # CPU hogs for the loaded test run (scripts/test.sh).
    stress-ng
    # The API reference, warnings as errors (scripts/docs.sh); HTML only,
    # no Graphviz.
    doxygen
    # scripts/check-format.sh: the sources follow .clang-format.
    clang-format
    # Graphviz's dot: the test scheduler_dag_render draws the task graph
    # that FLO_DAG writes (it reports SKIP without dot).
    graphviz
)

missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$p")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all packages present"
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
