#!/usr/bin/env python3
"""Check the library's layering (a meson test, suite unit).

    check_layers.py SOURCE_ROOT
    check_layers.py --self-test

The library is built in layers (docs/architecture.md), bottom up:

    base         runtime/
    devices      device/
    scheduler    scheduler/
    algorithms   collectives/algo/
    collectives  collectives/comm/
    top          lifecycle/ (flo_init wires the layers together)

A file may include the headers of its own layer, and of the layers below
it only the header(s) each exports (EXPORTS below); the public headers
(flotilla.h, flotilla/*.h) and the generated flo_build_config.h go
anywhere. A function of the library is declared in a header, never in a
.c or .cu file (an internal flo__ function declared where it is used
escapes the compiler's check against its definition).

Fails (exit 1) listing every violation. --self-test runs the checker on
small trees with one violation each and fails if it misses one.
"""
import os
import re
import sys
import tempfile

LAYERS = [  # (name, directory prefix), bottom up
    ('base', 'runtime/'),
    ('devices', 'device/'),
    ('scheduler', 'scheduler/'),
    ('algorithms', 'collectives/algo/'),
    ('collectives', 'collectives/comm/'),
    ('top', 'lifecycle/'),
]

# What a layer offers the layers above it. The CUDA backend's header is
# for code that needs CUDA types (the NCCL transport).
EXPORTS = {
    'base': {'runtime/internal.h', 'runtime/topology.h', 'runtime/faults.h'},
    'devices': {'device/device.h', 'device/cuda/cuda_backend.h'},
    'scheduler': {'scheduler/sched.h'},
    'algorithms': {'collectives/algo/algo.h'},
    'collectives': {'collectives/comm/comm_internal.h'},
    'top': set(),
}

SOURCE_EXT = ('.c', '.h', '.cu', '.cuh')


def layer_of(path):
    """(rank, name) of a path relative to the root, or None."""
    for rank, (name, prefix) in enumerate(LAYERS):
        if path.startswith(prefix):
            return rank, name
    return None


def strip_comments(text):
    text = re.sub(r'/\*.*?\*/', lambda m: '\n' * m.group(0).count('\n'),
                  text, flags=re.S)
    text = re.sub(r'//[^\n]*', '', text)
    return re.sub(r'"(\\.|[^"\\\n])*"', '""', text)


def file_scope_statements(text):
    """Statements at brace depth 0 (preprocessor lines removed)."""
    text = '\n'.join(l for l in text.split('\n')
                     if not l.lstrip().startswith('#'))
    depth, cur, out = 0, [], []
    for ch in text:
        if ch == '{':
            depth += 1
            cur = []
        elif ch == '}':
            depth -= 1
            cur = []
        elif depth == 0:
            if ch == ';':
                out.append(''.join(cur))
                cur = []
            else:
                cur.append(ch)
    return out


DECL = re.compile(r'\b(flo__\w+)\s*\([^()]*(\([^()]*\)[^()]*)*\)\s*'
                  r'(__attribute__\s*\(\(.*\)\)\s*)?$', re.S)
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def check(root):
    problems = []
    for _, prefix in LAYERS:
        top = os.path.join(root, prefix)
        if not os.path.isdir(top):
            continue
        for d, _, files in os.walk(top):
            for f in sorted(files):
                if not f.endswith(SOURCE_EXT):
                    continue
                full = os.path.join(d, f)
                rel = os.path.relpath(full, root).replace(os.sep, '/')
                if layer_of(rel) is None or \
                        layer_of(rel)[1] != layer_of(prefix)[1]:
                    continue  # A deeper layer's prefix owns it.
                with open(full, encoding='utf-8') as fh:
                    text = fh.read()
                problems += check_file(rel, text)
    return problems


def check_file(rel, text):
    problems = []
    rank, name = layer_of(rel)
    for inc in INCLUDE.findall(text):
        if inc == 'flo_build_config.h' or inc == 'flotilla.h' or \
                inc.startswith('flotilla/'):
            continue
        target = layer_of(inc)
        if target is None:
            continue  # Same-directory or third-party style include.
        trank, tname = target
        if trank > rank:
            problems.append('%s (%s) includes %s of the %s layer above it'
                            % (rel, name, inc, tname))
        elif trank < rank and inc not in EXPORTS[tname]:
            problems.append('%s (%s) includes %s, which the %s layer does '
                            'not export (it offers %s)'
                            % (rel, name, inc, tname,
                               ', '.join(sorted(EXPORTS[tname])) or
                               'nothing'))
    if rel.endswith(('.c', '.cu')):
        for st in file_scope_statements(strip_comments(text)):
            s = st.strip()
            if '=' in s or s.startswith(('typedef', 'struct', 'enum')):
                continue
            m = DECL.search(s)
            if m:
                problems.append('%s declares %s: declare it in its layer\'s '
                                'header' % (rel, m.group(1)))
    return problems


def self_test():
    cases = {
        'upward include': {
            'runtime/a.c': '#include "scheduler/sched.h"\n'},
        'private header of a lower layer': {
            'collectives/comm/a.c': '#include "scheduler/tasks.h"\n'},
        'prototype in a .c file': {
            'scheduler/a.c': 'void flo__f(int x);\nvoid g(void) {}\n'},
        'multi-line prototype in a .c file': {
            'device/a.c': 'flo_status flo__g(int a,\n'
                          '                  int b)\n'
                          '    __attribute__((unused));\n'},
    }
    clean = {
        'runtime/a.c': '#include "runtime/internal.h"\n'
                       'static int f(void);\nint flo__x(void) { return 0; }\n',
        'scheduler/b.c': '#include "device/device.h"\n'
                         '#include "scheduler/tasks.h"\n'
                         'flo_status flo_public(void);\n'
                         'static int y = 0;\n'
                         'void f(void) { flo__x(); }\n',
        'lifecycle/c.c': '#include "collectives/comm/comm_internal.h"\n'
                         '#include "scheduler/sched.h"\n',
    }
    failed = []
    for what, files in list(cases.items()) + [('clean tree', clean)]:
        with tempfile.TemporaryDirectory() as root:
            for rel, text in files.items():
                p = os.path.join(root, rel)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                with open(p, 'w', encoding='utf-8') as fh:
                    fh.write(text)
            found = check(root)
            if what == 'clean tree' and found:
                failed.append('clean tree reported: %s' % found)
            elif what != 'clean tree' and not found:
                failed.append('missed: %s' % what)
    for f in failed:
        print('self-test: ' + f)
    return 1 if failed else 0


def main(argv):
    if len(argv) == 2 and argv[1] == '--self-test':
        return self_test()
    if len(argv) != 2:
        print(__doc__)
        return 2
    problems = check(argv[1])
    for p in problems:
        print(p)
    if problems:
        print('%d layering problem(s); see docs/architecture.md'
              % len(problems))
        return 1
    print('layers: ok')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
