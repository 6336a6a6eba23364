#!/usr/bin/env bash
# The C, C++ and CUDA sources follow .clang-format (docs/style.md): fails,
# listing the files and the first differences, if any file does not.
# Fix with: clang-format -i $(git ls-files '*.c' '*.h' '*.cu' '*.cuh' '*.hpp')
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
cf=${CLANG_FORMAT:-clang-format}
if ! command -v "$cf" >/dev/null 2>&1; then
    echo "check-format: $cf not found (scripts/install-deps.sh installs it)"
    exit 1
fi
bad=0
while IFS= read -r f; do
    if ! "$cf" --style=file --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f"
        "$cf" --style=file "$f" | diff -u "$f" - | head -20
        bad=$((bad + 1))
    fi
done < <(git ls-files '*.c' '*.h' '*.cu' '*.cuh' '*.hpp')
if [[ $bad -gt 0 ]]; then
    echo "check-format: $bad file(s) differ from .clang-format"
    exit 1
fi
echo "check-format: every source file follows .clang-format"
