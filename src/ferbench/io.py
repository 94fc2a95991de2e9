"""Atomic writes: a temp file in the destination folder, then ``os.replace``.

A killed job therefore never leaves a file that looks finished. ``mkstemp`` creates its file 0600; the
result is given the mode a plain ``open()`` would have (0666 minus the umask), so a results folder on a
shared filesystem is readable by the group exactly as the user's umask says.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; it replaces ``dest`` only if the block succeeds."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.fchmod(fd, 0o666 & ~current_umask())
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    finally:
        tmp_path.unlink(missing_ok=True)


def current_umask() -> int:
    """The process umask, read without changing it (``os.umask`` can only be read by setting it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def remove_stale_temps(dest: str | Path) -> list[Path]:
    """Delete the temp files :func:`atomic_path` left beside ``dest`` when a writer was killed mid-way.

    Only for a job that owns ``dest`` (no other writer of it can be running); returns what it removed.
    """
    dest = Path(dest)
    stale = sorted(dest.parent.glob(f".{dest.name}.*.tmp")) if dest.parent.is_dir() else []
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return stale


def write_with(dest: str | Path, writer: Callable[[Path], Any]) -> Path:
    """``writer(tmp_path)`` writes the content; the result appears at ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        writer(tmp)
    return Path(dest)


def write_text(dest: str | Path, text: str) -> Path:
    return write_with(dest, lambda p: p.write_text(text, encoding="utf-8"))


def write_json(dest: str | Path, obj: Any) -> Path:
    return write_text(dest, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    # numpy scalars and paths show up in metrics and summaries
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
