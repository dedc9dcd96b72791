"""``app.yaml`` fuzzed with hypothesis: any file either loads or raises :class:`AppSpecError`.

Three kinds of input: arbitrary bytes (not UTF-8, not YAML), arbitrary text, and YAML documents of
near-valid shapes (the known keys with values of any type). The error must name the file, so an author
finds what to fix; anything else (a ``TypeError``, a ``UnicodeDecodeError``…) is a bug.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.apps.spec import AppSpec, AppSpecError, load_app

NOTEBOOK = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
BUDGET = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["public", "logged-in", "swe", "debris", "neo", "admins", "operators", ""])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12) | scalars, inner, max_size=4)
    ),
    max_leaves=12,
)
groups = st.lists(
    st.sampled_from(["swe", "debris", "neo", "admins", "nobody"]) | st.text(max_size=8), max_size=3
)
access = (
    st.sampled_from(["public", "logged-in"]) | st.fixed_dictionaries({"groups": groups | values}) | values
)
kernels = (
    st.fixed_dictionaries(
        {},
        optional={
            "preheat": st.integers(-2, 10) | values,
            "max": st.integers(-1, 300) | values,
            "idle_timeout": st.integers(0, 100_000) | values,
            "other": values,
        },
    )
    | values
)
documents = st.fixed_dictionaries(
    {},
    optional={
        "title": st.text(max_size=20) | values,
        "description": st.text(max_size=40) | values,
        "segment": st.sampled_from(["swe", "debris", "neo", "space"]) | values,
        "access": access,
        "kernels": kernels,
        "extra": values,
    },
)


@pytest.fixture(scope="module")
def tool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("apps") / "fuzzed-tool"
    d.mkdir()
    (d / "app.ipynb").write_text(NOTEBOOK)
    return d


def _load(tool: Path, content: bytes) -> AppSpec | None:
    (tool / "app.yaml").write_bytes(content)
    try:
        return load_app(tool)
    except AppSpecError as exc:
        assert "app.yaml" in str(exc) and str(exc).strip(), exc
        return None


@BUDGET
@given(content=st.binary(max_size=200))
def test_any_bytes_load_or_raise_app_spec_error(tool: Path, content: bytes) -> None:
    _load(tool, content)


@BUDGET
@given(text=st.text(max_size=200))
def test_any_text_loads_or_raises_app_spec_error(tool: Path, text: str) -> None:
    _load(tool, text.encode("utf-8", "surrogatepass"))


@BUDGET
@given(document=documents | values)
def test_near_valid_documents_load_or_raise_app_spec_error(tool: Path, document: Any) -> None:
    spec = _load(tool, yaml.safe_dump(document, allow_unicode=True).encode())
    if spec is not None:  # what loads is what the gateway relies on
        assert spec.title.strip() and spec.access in {"public", "logged-in", "groups"}
        assert (spec.access == "groups") == bool(spec.groups)
        k = spec.kernels
        assert 0 <= k.preheat <= 8 and 1 <= k.max <= 200 and 10 <= k.idle_timeout <= 86400
