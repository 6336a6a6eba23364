#!/usr/bin/env python3
"""Check what libflotilla.so exports (a meson test, suite unit).

    check_exports.py LIBRARY INCLUDE_DIR [--cuda]

Fails (exit 1) if the shared library exports a defined dynamic symbol
that is not public API: an internal flo__ name or any name without the
flo_ prefix. Fails too if a function declared in a public header
(INCLUDE_DIR/flotilla.h and INCLUDE_DIR/flotilla/*.h; static inline ones
aside) is not exported. Functions of flotilla/cuda.h are only expected
with --cuda (a build with the CUDA backend). Exits 77 (skip) without nm.
"""
import glob
import os
import re
import shutil
import subprocess
import sys


def exported(lib):
    out = subprocess.run(['nm', '-D', '--defined-only', lib], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2:
            names.add(f[-1].split('@')[0])
    return names


def declared(path):
    """Names of the functions a header declares (not static inline)."""
    with open(path, encoding='utf-8') as fh:
        text = fh.read()
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    text = re.sub(r'//[^\n]*', ' ', text)
    kept, cont = [], False
    for line in text.split('\n'):
        if cont or line.lstrip().startswith('#'):
            cont = line.rstrip().endswith('\\')
            continue
        kept.append(line)
    text = '\n'.join(kept)
    text = re.sub(r'\bFLO_(BEGIN|END)_DECLS\b', ' ', text)
    # Top-level statements: up to a ';' outside braces, or a static
    # (inline) function's closing brace.
    stmts, cur, depth = [], [], 0
    for ch in text:
        cur.append(ch)
        if ch == '{':
            depth += 1
        elif ch == '}':
            depth -= 1
            if depth == 0 and ''.join(cur).lstrip().startswith('static'):
                stmts.append(''.join(cur))
                cur = []
        elif ch == ';' and depth == 0:
            stmts.append(''.join(cur))
            cur = []
    names = set()
    for s in stmts:
        s = s.strip()
        if s.startswith(('typedef', 'static', 'extern "C"')) or '{' in s:
            continue
        m = re.search(r'\b(flo_[A-Za-z0-9_]+)\s*\(', s)
        if m:
            names.add(m.group(1))
    return names


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    lib, inc, cuda = argv[1], argv[2], '--cuda' in argv[3:]
    if not shutil.which('nm'):
        print('nm not found: skipped')
        return 77
    syms = exported(lib)
    ok = True

    bad = sorted(n for n in syms if not re.match(r'flo_[A-Za-z0-9]', n))
    if bad:
        ok = False
        print('%s exports %d symbol(s) outside the public API:' %
              (os.path.basename(lib), len(bad)))
        for n in bad:
            print('    ' + n)

    headers = [os.path.join(inc, 'flotilla.h')]
    headers += sorted(glob.glob(os.path.join(inc, 'flotilla', '*.h')))
    want = set()
    for h in headers:
        if os.path.basename(h) == 'cuda.h' and not cuda:
            continue
        want |= declared(h)
    if len(want) < 10:
        ok = False
        print('only %d public functions found in %s: parsing broke?' %
              (len(want), inc))
    missing = sorted(want - syms)
    if missing:
        ok = False
        print('%d public function(s) declared in %s but not exported:' %
              (len(missing), inc))
        for n in missing:
            print('    ' + n)

    print('%d symbols exported, %d public functions declared%s' %
          (len(syms), len(want), '' if ok else ': FAILED'))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
