"""Shared fixtures. The package under test is ../kvk (PYTHONPATH) over the libkvk.so that
KVK_LIBRARY names; CTest sets both (tests/python/CMakeLists.txt)."""
import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def shared_data():
    return os.environ.get("KVK_SHARED_DATA") or os.path.join(HERE, "..", "..", "..", "shared", "data")


@pytest.fixture(scope="session")
def photos():
    d = os.path.join(shared_data(), "images")
    return sorted(os.path.join(d, f) for f in os.listdir(d))


@pytest.fixture(scope="session")
def oracle():
    d = os.environ.get("KVK_PY_ORACLE")
    if not d or not os.path.exists(os.path.join(d, "oracle.json")):
        pytest.fail("KVK_PY_ORACLE must name the output of python/tests/make_oracle.py")
    return d


@pytest.fixture
def rng():
    seed = int.from_bytes(os.urandom(4), "little")
    print(f"seed {seed}")
    return np.random.default_rng(seed)


def rel_error(got, want):
    """max |got - want| over max |want|: one tolerance for outputs of any scale."""
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    return float(np.max(np.abs(got - want)) / max(float(np.max(np.abs(want))), 1e-30))


@pytest.fixture(scope="session", autouse=True)
def no_validation_messages():
    """With KVK_VALIDATION=1 every validation-layer message fails the run, as in the C tests."""
    yield
    if os.environ.get("KVK_VALIDATION") == "1" and "kvk._lib" in sys.modules:
        from kvk import _lib

        counts = {c.name: c.validation_messages() for c in _lib.contexts()}
        assert all(n == 0 for n in counts.values()), f"validation messages: {counts}"
