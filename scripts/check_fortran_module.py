#!/usr/bin/env python3
"""Check that the Fortran module still mirrors the C headers (a meson
test, suite unit).

    check_fortran_module.py INCLUDE_DIR MODULE_F90

1. Every constant of the C enums the module mirrors (flo_status,
   flo_dtype, flo_redop, flo_scan_kind, flo_sched_policy,
   flo_device_mask, flo_device_kind, flo_access, flo_transform_op; the
   *_COUNT markers aside) is a Fortran parameter of the same name and
   value, and every FLO_ parameter of the module that C defines (as an
   enum constant or a plain integer #define) has C's value.
2. Every C function the module binds (bind(c, name='flo_...')) is
   declared in a public header.
The layouts of the structs are checked by the fortran_module test itself
(tests/fortran/layout.c). Exits 1 with the differences.
"""
import glob
import os
import re
import sys

MIRRORED = {'flo_status', 'flo_dtype', 'flo_redop', 'flo_scan_kind',
            'flo_sched_policy', 'flo_device_mask', 'flo_device_kind',
            'flo_access', 'flo_transform_op'}


def c_constants(incdir):
    """{name: value} of the enum constants and integer #defines, and the
    set of names of the mirrored enums' constants."""
    values, mirrored = {}, set()
    text = ''
    for path in [os.path.join(incdir, 'flotilla.h')] + sorted(
            glob.glob(os.path.join(incdir, 'flotilla', '*.h'))):
        with open(path, encoding='utf-8') as fh:
            text += fh.read() + '\n'
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    for m in re.finditer(r'typedef\s+enum\s+(\w+)\s*\{(.*?)\}', text, re.S):
        for e in re.finditer(r'(FLO_\w+)\s*=\s*(-?\d+)', m.group(2)):
            values[e.group(1)] = int(e.group(2))
            if m.group(1) in MIRRORED and not e.group(1).endswith('_COUNT'):
                mirrored.add(e.group(1))
    define = (r'^\s*#\s*define\s+(FLO_\w+)\s+'
              r'\(?(-?(?:0x)?[0-9a-fA-F]+)u?\)?\s*$')
    for m in re.finditer(define, text, re.M):
        values[m.group(1)] = int(m.group(2), 0)
    functions = set(re.findall(r'\b(flo_\w+)\s*\(', text))
    return values, mirrored, functions


def fortran(path):
    with open(path, encoding='utf-8') as fh:
        text = fh.read()
    params = {}
    for m in re.finditer(
            r'^\s*integer\(c_int\),\s*parameter,\s*public\s*::\s*(FLO_\w+)'
            r'\s*=\s*(-?\d+)\s*$', text, re.M):
        params[m.group(1)] = int(m.group(2))
    binds = set(re.findall(r"bind\(c,\s*name='(flo_\w+)'\)", text))
    return params, binds


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    values, mirrored, functions = c_constants(sys.argv[1])
    params, binds = fortran(sys.argv[2])
    errors = []
    for name in sorted(mirrored - set(params)):
        errors.append(f'{name} = {values[name]} is missing from the module')
    for name, v in sorted(params.items()):
        if name in values and values[name] != v:
            errors.append(f'{name} is {v} in the module, {values[name]} in C')
    for name in sorted(binds - functions):
        errors.append(f"bind(c, name='{name}'): no such function in the "
                      'public headers')
    checked = len([n for n in params if n in values])
    if errors:
        print('\n'.join(errors))
        return 1
    print(f'{checked} constants and {len(binds)} bound functions match '
          'the headers')
    return 0


if __name__ == '__main__':
    sys.exit(main())
