#!/usr/bin/env bash
# The Python package as a user installs it: install the library from
# BUILD_DIR into a scratch root (meson install --destdir) and the
# package beside it (pip install --prefix, from a copy of python/, so the
# source tree stays clean), then run python/README.md's first program
# from there with nothing pointing at the build tree: the package must
# find the installed library by itself (python/flotilla/_lib.py).
#
#   bash scripts/check-python-install.sh BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:?usage: check-python-install.sh BUILD_DIR}" && pwd)

# The Python with NumPy and pip: the first python3 on PATH, else Debian's
# (where python3-numpy and python3-pip install).
py=
for c in python3 /usr/bin/python3; do
    if command -v "$c" >/dev/null &&
        "$c" -c 'import numpy, pip' 2>/dev/null; then
        py=$c
        break
    fi
done
if [[ -z $py ]]; then
    echo "check-python-install: no python3 with numpy and pip" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --no-rebuild --quiet --destdir "$tmp/root"
prefix=$(meson introspect "$build" --buildoptions | "$py" -c '
import json, sys
opts = json.load(sys.stdin)
print(next(o["value"] for o in opts if o["name"] == "prefix"))')
lib=$(find "$tmp/root$prefix" -name 'libflotilla.so' | head -n 1)
echo "library installed as ${lib#"$tmp/root"}"

cp -r "$root/python" "$tmp/src"
rm -rf "$tmp/src/build" "$tmp/src"/*.egg-info
"$py" -m pip install --quiet --no-deps --no-build-isolation --no-index \
    --disable-pip-version-check --root-user-action=ignore \
    --prefix "$tmp/root$prefix" "$tmp/src"
pkg=$(find "$tmp/root" -path '*-packages/flotilla/__init__.py' | head -n 1)
if [[ -z $pkg ]]; then
    echo "check-python-install: pip installed no flotilla package" >&2
    exit 1
fi
site=$(dirname "$(dirname "$pkg")")
echo "package installed in ${site#"$tmp/root"}"

# The first program of python/README.md, from a neutral directory, with
# the installed package only.
"$py" - "$root/python/README.md" >"$tmp/first.py" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8").read()
print(text.split("```python\n", 1)[1].split("```", 1)[0])
PY
cd "$tmp"
out=$(env -u FLOTILLA_LIBRARY -u FLOTILLA_PREFIX -u LD_LIBRARY_PATH \
    PYTHONPATH="$site" FLO_HOST_WORKERS=2 "$py" -c '
import flotilla, runpy, sys
print("loaded", flotilla.library_path)
runpy.run_path(sys.argv[1], run_name="__main__")' "$tmp/first.py")
echo "$out"
grep -q "loaded $tmp/root" <<<"$out" || {
    echo "check-python-install: not the installed library" >&2
    exit 1
}
grep -qF 'y[:4] = [ 1.  4.  7. 10.]' <<<"$out" || {
    echo "check-python-install: wrong result" >&2
    exit 1
}
echo "1 passed, 0 failed"
