"""Shared fixtures: repository paths, the real data excerpts beside the checkout, a small demo set."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real FER excerpts (read-only, never copied into the repo). CI clones with shared/ beside."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real data excerpts not found at {SHARED_DATA}; clone the repository next to shared/")
    return SHARED_DATA


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory) -> Path:
    """A 5-class demo set, 8 images per class, in the generic folder layout."""
    from ferbench.datasets.demo import synthesize

    out = tmp_path_factory.mktemp("demo_raw")
    synthesize(out, n_per_class=8, seed=3, size=160)
    return out
