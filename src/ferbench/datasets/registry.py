"""Adapters by name: ``format:`` in a dataset's config entry picks one."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from .base import AdapterResult, MissingRawData


class Adapter(Protocol):
    name: str
    obtain: str  # where a user requests or downloads the original files

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        """Paths (relative to the raw folder, globs allowed) that must exist before reading."""

    def read(self, raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
        """Every row of the label source, kept or excluded with its reason."""


_ADAPTERS: dict[str, Adapter] = {}


def register_adapter(cls: type) -> type:
    _ADAPTERS[cls.name] = cls()
    return cls


def get_adapter(name: str) -> Adapter:
    _import_all()
    try:
        return _ADAPTERS[name]
    except KeyError:
        raise KeyError(f"unknown dataset format {name!r}; known: {', '.join(sorted(_ADAPTERS))}") from None


def adapter_names() -> list[str]:
    _import_all()
    return sorted(_ADAPTERS)


def check_raw_files(dataset: str, fmt: str, raw_dir: Path, options: Mapping[str, Any]) -> None:
    """Raise ``MissingRawData`` naming every expected file that is absent."""
    adapter = get_adapter(fmt)
    expected = adapter.expected_files(options)
    missing = [e for e in expected if not any(Path(raw_dir).glob(e))]
    if missing:
        raise MissingRawData(dataset, Path(raw_dir), missing, options.get("obtain") or adapter.obtain)


def _import_all() -> None:
    # Importing the adapter modules registers them; done lazily so that light users
    # (the Snakefile at parse time) pay only for what they touch.
    import importlib
    import pkgutil

    from . import __path__ as pkg_path

    for mod in pkgutil.iter_modules(pkg_path):
        if mod.name not in {"base", "registry"}:
            importlib.import_module(f"{__package__}.{mod.name}")
