"""Adapters by name: ``format:`` in a dataset's config entry picks one.

Each adapter module registers its class with ``@register_adapter``; the package imports every adapter
module explicitly (``ferbench/datasets/__init__.py``), so the list of formats is visible there.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from .base import AdapterResult, MissingRawData


class Adapter(Protocol):
    name: str
    obtain: str  # where a user requests or downloads the original files
    options: Mapping[str, Any]  # every option the adapter reads, with its default

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        """Paths (relative to the raw folder, globs allowed) that must exist before reading."""

    def read(self, raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
        """Every row of the label source, kept or excluded with its reason."""


_ADAPTERS: dict[str, Adapter] = {}


def register_adapter(cls: type) -> type:
    _ADAPTERS[cls.name] = cls()
    return cls


def get_adapter(name: str) -> Adapter:
    try:
        return _ADAPTERS[name]
    except KeyError:
        raise KeyError(f"unknown dataset format {name!r}; known: {', '.join(sorted(_ADAPTERS))}") from None


def adapter_names() -> list[str]:
    return sorted(_ADAPTERS)


class UnknownOption(ValueError):
    """An ``options:`` key the dataset's adapter does not read (a typo would otherwise be ignored)."""


def with_defaults(fmt: str, options: Mapping[str, Any], dataset: str | None = None) -> dict[str, Any]:
    """``options`` over the adapter's defaults; an option it does not know is an error naming it.

    A value of ``None`` means the default: merged configs cannot delete a key, only set it to null.
    """
    allowed = get_adapter(fmt).options
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        where = f"dataset {dataset!r} (format {fmt!r})" if dataset else f"format {fmt!r}"
        near = {k: difflib.get_close_matches(k, list(allowed), 1) for k in unknown}
        hints = [f"{k!r} -> {m[0]!r}" for k, m in near.items() if m]
        hint = f" (did you mean {', '.join(hints)}?)" if hints else ""
        raise UnknownOption(f"{where}: unknown option(s) {', '.join(map(repr, unknown))}{hint}; "
                            f"allowed: {', '.join(sorted(allowed))}")
    return {**allowed, **{k: v for k, v in options.items() if v is not None}}


def check_raw_files(dataset: str, fmt: str, raw_dir: Path, options: Mapping[str, Any]) -> None:
    """Raise ``MissingRawData`` naming every expected file that is absent.

    ``options`` may carry ``obtain`` (the entry's own "where to get it"), which is not an adapter option.
    """
    adapter = get_adapter(fmt)
    opts = {k: v for k, v in options.items() if k != "obtain"}
    expected = adapter.expected_files(opts)
    missing = [e for e in expected if not any(Path(raw_dir).glob(e))]
    if missing:
        raise MissingRawData(dataset, Path(raw_dir), missing, options.get("obtain") or adapter.obtain)
