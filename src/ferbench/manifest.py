"""The seal of a results folder: ``MANIFEST.sha256`` and ``provenance.json``.

``MANIFEST.sha256`` is in ``sha256sum`` format (``<hex>  <path relative to the results folder>``), so
``cd results && sha256sum -c MANIFEST.sha256`` checks it without ferbench. It lists every file the tables
are built from (label tables, splits, every fold's files, the summary, the best checkpoints and cards,
``provenance.json``); the tables themselves are checked by rebuilding them (``ferbench verify``). The
image cache and the aligned images are not listed: each fold's ``provenance.json`` records the sha256
of the cache it trained on.

``provenance.json`` states the grid, the merged config and the code versions that made the folds.
"""

from __future__ import annotations

import datetime
import json
import platform
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .download import sha256sum
from .io import write_json, write_text


def _relative(files: Iterable[str | Path], root: Path) -> list[str]:
    out = []
    for f in files:
        p = Path(f)
        try:
            out.append(p.resolve().relative_to(root.resolve()).as_posix())
        except ValueError:
            raise ValueError(f"{p} is not inside the results folder {root}") from None
    return sorted(set(out))


def write_manifest(files: Iterable[str | Path], root: str | Path, out: str | Path, workers: int = 4) -> dict[str, str]:
    """Hash ``files`` (hashlib releases the GIL: threads hash large checkpoints in parallel)."""
    root = Path(root)
    rel = _relative(files, root)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        digests = dict(zip(rel, pool.map(lambda r: sha256sum(root / r), rel)))
    write_text(out, "".join(f"{digests[r]}  {r}\n" for r in rel))
    return digests


def read_manifest(path: str | Path) -> dict[str, str]:
    entries = {}
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64 or not rel:
            raise ValueError(f"{path}:{lineno}: not a sha256sum line: {line[:80]!r}")
        entries[rel] = digest
    return entries


def fold_code_versions(provenance_files: Sequence[str | Path]) -> dict[str, int]:
    """How many folds each code version made (``ferbench version @ commit[+dirty]``)."""
    seen: Counter[str] = Counter()
    for f in provenance_files:
        p = Path(f)
        seen[code_version(json.loads(p.read_text())) if p.is_file() else "unknown (no provenance.json)"] += 1
    return dict(sorted(seen.items()))


def code_versions_of_folds(metric_files: Sequence[str | Path]) -> str:
    """``"<version> @ <commit> (n folds); ..."`` for the folds of ``metric_files`` (a report caption)."""
    counts = fold_code_versions([Path(f).parent / "provenance.json" for f in metric_files])
    return "; ".join(f"{v} ({n} fold{'s' if n != 1 else ''})" for v, n in counts.items())


def code_version(provenance: Mapping[str, Any]) -> str:
    """``ferbench <version> @ <commit>[+dirty]`` of a fold's provenance.json (``ferbench.provenance``)."""
    code = provenance.get("code") or {}
    git = code.get("git") or {}
    commit = (git.get("commit") or "")[:12] or "not a git checkout"
    return f"ferbench {code.get('ferbench', '?')} @ {commit}{'+dirty' if git.get('dirty') else ''}"


def write_results_provenance(grid: Mapping[str, Any], config: Mapping[str, Any],
                             provenance_files: Sequence[str | Path], out: str | Path,
                             extra: Mapping[str, Any] | None = None) -> dict:
    """``extra``: further top-level keys (``ferbench merge`` records the folders it merged)."""
    from . import __version__

    doc = {
        "grid": dict(grid),
        "config": dict(config),
        "code_versions": fold_code_versions(provenance_files),
        "aggregated_by": {"ferbench": __version__, "python": platform.python_version(),
                          "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
        **dict(extra or {}),
    }
    write_json(out, doc)
    return doc
