"""Exceptions carry Flotilla's status and message."""

import pytest

import flotilla as flo
from flotilla.errors import check, error_for


def test_each_error_status_has_its_class():
    seen = set()
    for s in flo.Status:
        if s >= 0:
            assert check(s) == s
            continue
        e = error_for(s, "msg")
        assert isinstance(e, flo.Error)
        assert e.status == s and e.message == "msg"
        assert type(e) is not flo.Error, s
        seen.add(type(e))
    assert len(seen) == sum(1 for s in flo.Status if s < 0)


def test_classes_are_also_builtin_exceptions():
    assert isinstance(error_for(flo.Status.EINVAL), ValueError)
    assert isinstance(error_for(flo.Status.ENOMEM), MemoryError)
    assert isinstance(error_for(flo.Status.ERANGE), IndexError)
    assert isinstance(error_for(flo.Status.ETIMEDOUT), TimeoutError)
    assert isinstance(error_for(flo.Status.ENOTSUP), NotImplementedError)


def test_default_message_is_flo_status_str():
    e = flo.InvalidArgumentError()
    assert e.status == flo.Status.EINVAL
    assert e.message == flo.status_str(flo.Status.EINVAL)
    assert str(e).startswith("FLO_EINVAL: ")


def test_check_raises_with_status_and_message():
    with pytest.raises(flo.StaleError) as ei:
        check(flo.Status.ESTALE, "gone")
    assert ei.value.status == flo.Status.ESTALE
    assert "gone" in str(ei.value)


def test_unknown_status_gives_the_base_class():
    e = error_for(-999, "odd")
    assert type(e) is flo.Error and e.status == -999
