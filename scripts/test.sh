#!/usr/bin/env bash
# Build Flotilla and run the whole test suite, as CI does:
#   1. build/       the normal build, -Dwerror=true (CUDA code included
#                   when nvcc is installed; GPU tests skip without a GPU),
#                   every suite (the Python package's pytest suite too);
#                   the Python package installed next to the installed
#                   library; C (pkg-config), C++ (CMake) and Fortran
#                   programs built against an installed copy and run
#                   (scripts/check-install.sh); then the unit and integration suites
#                   again under load (stress-ng, two CPU hogs per core),
#                   the scheduler suites three times; and the API
#                   reference in build/docs/ (scripts/docs.sh: Doxygen
#                   over the public headers, where any warning, such as
#                   an undocumented function or parameter, fails the
#                   step); then the plots of
#                   docs/perf against their data (check_perf_plots.py);
#   2. build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. build-ubsan/ UndefinedBehaviorSanitizer alone: ASan's allocator
#                   aligns every block generously, which hides misaligned
#                   accesses (a cache-line aligned type from plain malloc)
#                   that UBSan reports with the system allocator;
#   4. build-tsan/  ThreadSanitizer;
# the sanitizer builds run the unit, integration, stress and mpi suites
# (build-ubsan: unit, integration and stress), host backend only (the mpi
# suite without leak checks: see below), with suppressions for Open MPI's
# libraries in scripts/{lsan,tsan}.supp and for libgfortran's formatted
# I/O in scripts/asan.supp.
# Exits non-zero if any step fails; the others still
# run, so one report shows everything. Works on a fresh Debian 12 machine:
# installs what it needs first.
#
#   bash scripts/test.sh            everything
#   FLO_TEST_SKIP_SANITIZERS=1 bash scripts/test.sh   the normal build only
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$FLO_ROOT" || exit 1

SAN_SUITES=(--suite unit --suite integration --suite stress --suite mpi)
failed=()
t_start=$(date +%s)

# step NAME COMMAND...: run it, report its time, remember a failure.
step() {
    local name=$1 t0 rc
    shift
    echo
    echo "==> $name"
    t0=$(date +%s)
    "$@"
    rc=$?
    if [[ $rc -eq 0 ]]; then
        echo "==> $name: ok ($(($(date +%s) - t0)) s)"
    else
        echo "==> $name: FAILED (exit $rc, $(($(date +%s) - t0)) s)"
        failed+=("$name")
    fi
    return $rc
}

# The sanitizer runtimes of GCC 12 cannot map their shadow memory with the
# largest address-space randomisation of recent kernels; run the tests
# without randomisation when the system lets us (containers may not).
NORAND=()
if setarch "$(uname -m)" -R true >/dev/null 2>&1; then
    NORAND=(setarch "$(uname -m)" -R)
fi

step "install dependencies" bash scripts/install-deps.sh || exit 1

# ---- 1. Normal build, warnings are errors ---------------------------------
if step "configure build/" flo_meson_setup build -Dwerror=true &&
    step "compile build/" ninja -C build; then
    step "test build/ (all suites)" \
        meson test -C build --print-errorlogs
    step "install build/, build C, C++ (CMake) and Fortran against it" \
        bash scripts/check-install.sh build
    # The Python package installed with pip next to the installed
    # library, running python/README.md's first program (its pytest
    # suite ran above as the meson tests python and python_gpu).
    step "python package from the installed tree" \
        bash scripts/check-python-install.sh build
fi

# ---- 1a. API reference, Doxygen warnings are errors (seconds) --------------
# After the build: a fresh build/ is set up from scratch (flo_meson_setup
# empties it), which would delete the HTML.
step "API reference (scripts/docs.sh, warnings are errors)" \
    bash scripts/docs.sh build/docs

# ---- 1a'. Formatting: every source follows .clang-format (seconds) --------
step "format (scripts/check-format.sh, .clang-format)" \
    bash scripts/check-format.sh

# ---- 1b. The same build on an overloaded machine --------------------------
# Two CPU hogs per core (stress-ng) while the unit and integration suites
# run again, and the scheduler suites three times over: results must not
# depend on scheduling luck (a test may measure a time, never assert on
# one). Skipped only if the normal build failed to compile.
loaded_tests() {
    local hogs=$(($(nproc) * 2)) pid rc=0
    stress-ng --cpu "$hogs" --timeout 1800s --quiet &
    pid=$!
    meson test -C build --print-errorlogs --timeout-multiplier 4 \
        --suite unit --suite integration || rc=1
    meson test -C build --print-errorlogs --timeout-multiplier 4 \
        --repeat 3 scheduler_submit scheduler_deps scheduler_failure \
        scheduler_data scheduler_ids scheduler_api runtime_lifecycle || rc=1
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return $rc
}
if [[ -f build/build.ninja ]] && ninja -C build -n >/dev/null 2>&1 &&
    [[ "${FLO_TEST_SKIP_LOADED:-0}" != 1 ]]; then
    step "test build/ under load (stress-ng, 2 hogs per core)" loaded_tests
fi

# ---- 1c. The performance pages ------------------------------------------
# docs/perf/data holds the figures of the docs/perf tables as JSON, and
# docs/perf/img their plots (scripts/plot-bench.py): every page shows its
# plots, the data matches the pages, the plots are those the data gives.
# Run by the Python that has matplotlib: scripts/install-deps.sh installs
# it for the system's python3, which a user's own python3 may shadow.
plot_python() {
    local p
    for p in python3 /usr/bin/python3; do
        if command -v "$p" >/dev/null 2>&1 &&
            "$p" -c 'import matplotlib' >/dev/null 2>&1; then
            echo "$p"
            return 0
        fi
    done
    echo python3
}
step "docs/perf plots (scripts/check_perf_plots.py)" \
    "$(plot_python)" scripts/check_perf_plots.py

# ---- 2., 3. and 4. Sanitizer builds ---------------------------------------
if [[ "${FLO_TEST_SKIP_SANITIZERS:-0}" != 1 ]]; then
    SAN_OPTS=(-Dcuda=disabled -Dnccl=disabled -Db_lundef=false)

    if step "configure build-asan/" flo_meson_setup build-asan \
            "${SAN_OPTS[@]}" -Db_sanitize=address,undefined &&
        step "compile build-asan/" ninja -C build-asan; then
        ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1"
        ASAN_OPTIONS+=":strict_string_checks=1:check_initialization_order=1"
        ASAN_OPTIONS+=":print_summary=1"
        ASAN_OPTIONS+=":suppressions=$FLO_ROOT/scripts/asan.supp"
        LSAN_OPTIONS="suppressions=$FLO_ROOT/scripts/lsan.supp"
        LSAN_OPTIONS+=":print_suppressions=0"
        export LSAN_OPTIONS UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
        step "test build-asan/ (ASan+UBSan)" \
            env ASAN_OPTIONS="$ASAN_OPTIONS" "${NORAND[@]}" \
            meson test -C build-asan --print-errorlogs \
            --timeout-multiplier 3 --suite unit --suite integration \
            --suite stress
        # Open MPI unloads its components at MPI_Finalize, so what they
        # keep until exit shows up as leaks from unknown modules that no
        # suppression can name: the mpi suite runs without leak checks
        # (every other check stays on; the other suites check leaks).
        step "test build-asan/ (ASan+UBSan, mpi suite)" \
            env ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0" \
            "${NORAND[@]}" \
            meson test -C build-asan --print-errorlogs \
            --timeout-multiplier 3 --suite mpi
    fi

    if step "configure build-ubsan/" flo_meson_setup build-ubsan \
            "${SAN_OPTS[@]}" -Db_sanitize=undefined &&
        step "compile build-ubsan/" ninja -C build-ubsan; then
        step "test build-ubsan/ (UBSan alone)" \
            env UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
            "${NORAND[@]}" \
            meson test -C build-ubsan --print-errorlogs \
            --timeout-multiplier 3 --suite unit --suite integration \
            --suite stress
    fi

    if step "configure build-tsan/" flo_meson_setup build-tsan \
            "${SAN_OPTS[@]}" -Db_sanitize=thread &&
        step "compile build-tsan/" ninja -C build-tsan; then
        TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
        TSAN_OPTIONS+=":suppressions=$FLO_ROOT/scripts/tsan.supp"
        TSAN_OPTIONS+=":print_suppressions=0"
        step "test build-tsan/ (TSan)" \
            env TSAN_OPTIONS="$TSAN_OPTIONS" \
            "${NORAND[@]}" \
            meson test -C build-tsan --print-errorlogs \
            --timeout-multiplier 5 "${SAN_SUITES[@]}"
    fi
fi

echo
echo "==> total $(($(date +%s) - t_start)) s"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "==> FAILED steps:"
    printf '      %s\n' "${failed[@]}"
    exit 1
fi
echo "==> all steps passed"
