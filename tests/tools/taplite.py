"""A minimal TAP producer for the Python tool tests (meson protocol
'tap'): each case is a function; a failed assertion or an exception is
'not ok' with the traceback as diagnostics."""
import sys
import traceback

_cases = []


def case(fn):
    _cases.append(fn)
    return fn


def skip_all(reason):
    print("1..0 # SKIP %s" % reason)
    sys.stdout.flush()
    sys.exit(0)


def run():
    print("1..%d" % len(_cases))
    failed = 0
    for i, fn in enumerate(_cases, 1):
        try:
            fn()
        except Exception:
            failed += 1
            print("not ok %d - %s" % (i, fn.__name__))
            for line in traceback.format_exc().splitlines():
                print("# " + line)
        else:
            print("ok %d - %s" % (i, fn.__name__))
        sys.stdout.flush()
    sys.exit(1 if failed else 0)
