"""``ferbench pack RESULTS_DIR -o ARCHIVE.tar.gz``: a sealed results folder as one archive.

Unpacked with plain ``tar -xzf ARCHIVE.tar.gz`` in a clone of the workflow, it is the clone's
``results/`` (every member path starts with ``results/``). Everything the DAG needs to find the folder
up to date travels: the upstream stages (raw manifests, aligned faces, label tables, image caches,
splits), the folds, the aggregation and its seal (``MANIFEST.sha256``, ``provenance.json``), and the
benchmark timings of the finished jobs. Timestamps are kept (PAX headers, sub-second), so Snakemake's
mtime comparison sees what it saw before packing; the default workflow profile has no ``code`` rerun
trigger, so the clone's newer scripts do not retrain anything.

Left out: ``resume/`` (state of unfinished folds), ``logs/`` (per-job logs: host-specific, a running
job's is partial, and Snakemake never reads them), the temporary files of atomic writes, and with
``--no-checkpoints`` every ``best.pt``: ``ferbench verify`` passes and says what it could not check, the
table target has nothing to do, but any job that needs a missing ``best.pt`` (a best card rebuilt when
the grid grows, or the file asked for) retrains its fold first. The archive records what it left out
in ``results/PACKED.json``.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import re
import tarfile
import time
from pathlib import Path

from . import __version__, layout
from .download import sha256sum
from .io import atomic_path

ARC_ROOT = layout.RESULTS
LEFT_OUT = {
    "resume/": "resume state of unfinished training jobs",
    "logs/": "per-job logs (host paths; a running job's log is partial); the DAG never reads them",
    ".*.tmp": "temporary files of atomic writes in progress",
}
_CHECKPOINTS = [re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(p)) + "$")
                for p in (layout.CHECKPOINT, layout.BEST_CHECKPOINT)]


def is_checkpoint(rel: str) -> bool:
    """A fold's or a best cell's ``best.pt`` (path relative to the results folder)."""
    return any(p.match(rel) for p in _CHECKPOINTS)


def read_packed(root: str | Path) -> dict:
    """What the archive a folder was unpacked from left out; ``{}`` for a folder never packed."""
    path = Path(root) / layout.PACKED
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _left_out(rel: str, is_dir: bool) -> bool:
    name = rel.rsplit("/", 1)[-1]
    if is_dir:
        return f"{rel}/" in LEFT_OUT
    return rel == layout.PACKED or (name.startswith(".") and name.endswith(".tmp"))


def members(root: str | Path, checkpoints: bool = True) -> tuple[list[str], list[str]]:
    """(paths to pack, checkpoints left out), relative to ``root`` and sorted: a folder comes before its
    contents, so tar restores the folder's timestamp after filling it."""
    root = Path(root)
    keep, dropped = [], []
    for folder, dirs, files in os.walk(root, followlinks=True):
        base = Path(folder).relative_to(root)
        rels = {d: (base / d).as_posix() for d in dirs}
        dirs[:] = [d for d in dirs if not _left_out(rels[d], True)]
        keep += [rels[d] for d in dirs]
        for f in files:
            rel = (base / f).as_posix()
            if _left_out(rel, False):
                continue
            (dropped if not checkpoints and is_checkpoint(rel) else keep).append(rel)
    return sorted(keep), sorted(dropped)


def pack(root: str | Path, out: str | Path, checkpoints: bool = True) -> dict:
    """Write the archive; return its ``PACKED.json`` record (plus ``bytes``)."""
    root, out = Path(root), Path(out)
    for sealed in (layout.MANIFEST, layout.PROVENANCE):
        if not (root / sealed).is_file():
            raise FileNotFoundError(
                f"{root / sealed} not found: only a sealed results folder can be packed (build the tables "
                "first: snakemake results/tables/accuracy.md --configfile ...)")
    if out.resolve().is_relative_to(root.resolve()):
        raise ValueError(f"{out} is inside {root}: write the archive elsewhere")
    keep, dropped = members(root, checkpoints)
    record = {
        "packed_by": {"ferbench": __version__,
                      "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
        "checkpoints": checkpoints,
        "checkpoints_left_out": dropped,
        "left_out": LEFT_OUT,
        "files": sum(1 for r in keep if (root / r).is_file()),
        "manifest_sha256": sha256sum(root / layout.MANIFEST),
    }
    blob = (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()
    with atomic_path(out) as tmp:
        with tarfile.open(tmp, "w:gz", format=tarfile.PAX_FORMAT, dereference=True, compresslevel=6) as tar:
            tar.add(root, arcname=ARC_ROOT, recursive=False)
            for rel in keep:
                tar.add(root / rel, arcname=f"{ARC_ROOT}/{rel}", recursive=False)
            info = tarfile.TarInfo(f"{ARC_ROOT}/{layout.PACKED}")
            info.size, info.mtime, info.mode = len(blob), time.time(), 0o644
            tar.addfile(info, io.BytesIO(blob))
    return record | {"bytes": out.stat().st_size}
