"""The ctypes structures, enumerations and constants match the C
headers: compared with the output of python/tests/layout.c, compiled
against the headers by meson (FLOTILLA_LAYOUT_HELPER is its path)."""

import ctypes
import os
import subprocess

import pytest

import flotilla as flo
from flotilla import _lib, array, runtime


@pytest.fixture(scope="module")
def layout():
    helper = os.environ.get("FLOTILLA_LAYOUT_HELPER")
    if not helper:
        pytest.skip("FLOTILLA_LAYOUT_HELPER not set: the layout check "
                    "runs from meson (python/meson.build)")
    out = subprocess.run([helper], capture_output=True, text=True,
                         check=True).stdout
    sizes, fields, values, consts = {}, {}, {}, {}
    for line in out.splitlines():
        w = line.split()
        if w[0] == "value":          # value CLASS NAME VALUE
            values.setdefault(w[1], {})[w[2]] = int(w[3])
        elif w[0] == "const":        # const NAME VALUE
            consts[w[1]] = int(w[2])
        elif w[1] == "sizeof":       # STRUCT sizeof SIZE
            sizes[w[0]] = int(w[2])
        else:                        # STRUCT FIELD OFFSET
            fields.setdefault(w[0], {})[w[1]] = int(w[2])
    return sizes, fields, values, consts


def test_every_struct_matches(layout):
    sizes, fields, _, _ = layout
    assert set(_lib.STRUCTS) == set(sizes) - {"enum"}
    for name, cls in _lib.STRUCTS.items():
        assert ctypes.sizeof(cls) == sizes[name], name
        py = {f: getattr(cls, f).offset for f, _ in cls._fields_}
        c = {("in_" if f == "in" else f): off
             for f, off in fields[name].items()}
        assert py == c, name


def test_enums_are_int_sized(layout):
    assert layout[0]["enum"] == ctypes.sizeof(ctypes.c_int)


def test_enumerators_match(layout):
    values = layout[2]
    classes = {"Access": runtime.Access, "Sched": runtime.Sched,
               "Devices": runtime.Devices, "DeviceKind": runtime.DeviceKind,
               "DType": array.DType, "RedOp": array.RedOp,
               "ScanKind": array.ScanKind,
               "TransformOp": array.TransformOp}
    assert set(classes) == set(values)
    for cname, cls in classes.items():
        c = values[cname]
        assert len(cls) == len(c), cname
        got = sorted(int(m) for m in cls)
        assert got == sorted(c.values()), cname


def test_constants_match(layout):
    consts = layout[3]
    for k, v in consts.items():
        if k == "FLO_VERSION":
            assert _lib.FLO_VERSION_CODE == v
            assert flo.version() == "%d.%d.%d" % (v // 10000,
                                                  v // 100 % 100, v % 100)
        else:
            assert getattr(_lib, k) == v, k


def test_status_codes_match_the_library():
    # flo_status_str names every code: the Python names must agree.
    for s in flo.Status:
        assert flo.status_str(s).startswith("FLO_%s:" % s.name), s
    assert flo.status_str(-999).startswith("FLO_?")
