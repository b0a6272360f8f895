"""Shared checks of the depth tests."""
import time

import pytest

from fltheory import FLTheoryInputError


@pytest.fixture
def rejected():
    """``rejected(call, param)``: ``call()`` fails with one FLTheoryInputError whose message starts with
    ``param``, before anything is built, trained or solved (within 2 s)."""
    def check(call, param):
        t0 = time.perf_counter()
        with pytest.raises(FLTheoryInputError, match=rf"^{param}: "):
            call()
        assert time.perf_counter() - t0 < 2.0, "rejected before any network is built, trained or solved"

    return check
