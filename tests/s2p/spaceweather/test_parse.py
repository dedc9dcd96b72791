"""The vectorised fixed-width number parser against its reference, Python's ``float()``."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from s2p.spaceweather._parse import _parse_field


def parse(fields: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    width = max(len(f) for f in fields)
    block = np.array([list(f.ljust(width).encode("latin-1")) for f in fields], dtype=np.uint8).T
    return _parse_field(np.ascontiguousarray(block))


def test_examples() -> None:
    good = ["  -1.5", "+3", "269.8", ".5", "5.", "-.5", " 9999", "0", "  12  "]
    bad = ["1.2.3", "- 5", "5-", "a", " 0a", "12 3", "-", ".", "+-5", "1e5"]
    v, b, blank = parse(good + bad + ["    "])
    assert v[: len(good)].tolist() == [float(s) for s in good]
    assert not b[: len(good)].any() and b[len(good) : -1].all()
    assert blank.tolist() == [False] * (len(good) + len(bad)) + [True] and np.isnan(v[-1])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=" 0123456789.-+a", min_size=1, max_size=9), min_size=1, max_size=20))
def test_agrees_with_python_float(fields: list[str]) -> None:
    v, bad, blank = parse(fields)
    for k, s in enumerate(fields):
        if not s.strip():
            assert blank[k] and not bad[k]
            continue
        try:
            ref = float(s)
        except ValueError:
            assert bad[k], s
            continue
        assert not bad[k], s
        assert v[k] == ref, s  # bit-for-bit: the correctly rounded double
