"""Fixtures of the figure tests; the writers of small results folders live in figure_helpers.py."""

from __future__ import annotations

import pytest

from ferbench.figures import render


@pytest.fixture
def drawn(monkeypatch):
    """The figures the render functions draw (they still write their files): read back their data."""
    figs = []
    real = render.save

    def keep(fig, stem, *args, **kwargs):
        figs.append(fig)
        return real(fig, stem, *args, **kwargs)

    monkeypatch.setattr(render, "save", keep)
    return figs
