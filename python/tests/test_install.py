"""Finding libflotilla: FLOTILLA_LIBRARY, an installed prefix, errors."""

import os
import subprocess
import sys

import pytest

import flotilla as flo

PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(
    flo.__file__)))


def _run(env, code="import flotilla; print(flotilla.library_path)"):
    e = {k: v for k, v in os.environ.items()
         if k not in ("FLOTILLA_LIBRARY", "FLOTILLA_PREFIX")}
    e.update(env)
    e["PYTHONPATH"] = PKG_PARENT
    return subprocess.run([sys.executable, "-c", code], env=e,
                          capture_output=True, text=True, timeout=60)


def test_found_under_flotilla_prefix(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    os.symlink(os.path.realpath(flo.library_path),
               lib / "libflotilla.so")
    r = _run({"FLOTILLA_PREFIX": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(lib / "libflotilla.so")


def test_explicit_library_that_fails_is_an_error(tmp_path):
    r = _run({"FLOTILLA_LIBRARY": str(tmp_path / "nope.so")})
    assert r.returncode != 0
    assert "nope.so" in r.stderr


def test_first_program_of_the_readme():
    # The program of python/README.md, run as a user would.
    readme = os.path.join(PKG_PARENT, "README.md")
    if not os.path.exists(readme):
        pytest.skip("not run from the source tree (no python/README.md)")
    text = open(readme, encoding="utf-8").read()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    r = _run({"FLOTILLA_LIBRARY": os.path.realpath(flo.library_path),
              "FLO_HOST_WORKERS": "2", "FLO_DEVICES": "host"}, code)
    assert r.returncode == 0, r.stderr
    assert "y[:4] = [ 1.  4.  7. 10.]" in r.stdout
