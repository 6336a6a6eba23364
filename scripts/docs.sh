#!/usr/bin/env bash
# Build the API reference (HTML) from the public headers with Doxygen and
# docs/Doxyfile, and fail on any Doxygen warning: an undocumented
# function, macro, type, enum value, field or parameter is an error.
#
#   bash scripts/docs.sh          HTML in build/docs/html (index.html)
#   bash scripts/docs.sh DIR      HTML in DIR/html
#
# Needs the Debian package doxygen (scripts/install-deps.sh installs it);
# no Graphviz. Takes a few seconds. scripts/test.sh runs it in CI.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$FLO_ROOT"

if ! command -v doxygen >/dev/null 2>&1; then
    echo "docs.sh: doxygen not found (bash scripts/install-deps.sh)" >&2
    exit 1
fi

out=${1:-build/docs}
mkdir -p "$out"
out=$(cd "$out" && pwd)
log="$out/doxygen-warnings.log"
rm -rf "$out/html"
rm -f "$log"

# The version of the headers, for the page titles.
version=$(sed -n \
    's/^#define FLO_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' \
    include/flotilla/status.h | paste -sd.)

# docs/Doxyfile plus what depends on this run. Doxygen exits non-zero on
# a warning (WARN_AS_ERROR = FAIL_ON_WARNINGS); the log is checked as
# well, so that no warning passes whatever a Doxygen version does.
rc=0
{
    cat docs/Doxyfile
    echo "PROJECT_NUMBER = $version"
    echo "OUTPUT_DIRECTORY = $out"
    echo "WARN_LOGFILE = $log"
} | doxygen - || rc=$?

if [[ -s "$log" ]]; then
    echo "docs.sh: Doxygen warnings (each is an error):" >&2
    sed "s|$FLO_ROOT/||" "$log" >&2
    exit 1
fi
if [[ $rc -ne 0 ]]; then
    echo "docs.sh: doxygen failed (exit $rc)" >&2
    exit 1
fi
echo "docs.sh: API reference in $out/html/index.html (no warnings)"
