"""The download stage: make ``resources/raw/{dataset}/`` ready, and verify files by sha256.

Three cases: the demo is synthesised; a dataset whose config gives a ``url`` is fetched, checked
against its ``sha256`` and unpacked; any other dataset must already be placed by the user (licensed
datasets cannot be downloaded for them), and its absence stops the workflow with the list of expected
files and where the dataset is obtained.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .datasets import check_raw_files, get_adapter
from .io import atomic_path

_CHUNK = 1 << 20


class ChecksumMismatch(ValueError):
    pass


def sha256sum(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify_sha256(path: str | Path, expected: str | None, what: str) -> None:
    if expected and (actual := sha256sum(path)) != expected:
        raise ChecksumMismatch(f"{what}: {path} has sha256 {actual}, expected {expected}; the file is corrupt or a different release")


def fetch_url(url: str, dest: Path, sha256: str | None) -> Path:
    """Stream ``url`` to ``dest`` atomically; the checksum is verified before the file appears."""
    import requests  # only the download path needs it

    with atomic_path(dest) as tmp:
        with requests.get(url, stream=True, timeout=60) as resp:
            resp.raise_for_status()
            with open(tmp, "wb") as f:
                for block in resp.iter_content(_CHUNK):
                    f.write(block)
        verify_sha256(tmp, sha256, f"download of {url}")
    return dest


def _safe_members(names: list[str], root: Path) -> None:
    for name in names:
        target = (root / name).resolve()
        if not target.is_relative_to(root.resolve()):
            raise ValueError(f"archive member {name!r} would be written outside {root}")


def unpack(archive: Path, dest: Path) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            _safe_members(z.namelist(), dest)
            z.extractall(dest)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as t:
            t.extractall(dest, filter="data")  # refuses links/paths that escape dest
    else:
        shutil.copy2(archive, dest / archive.name)


def placed_by_user(entry: Mapping[str, Any]) -> bool:
    """Neither synthesised nor downloaded: the user puts the original files under resources/raw/."""
    return "synthesize" not in entry and not entry.get("url")


def label_files(entry: Mapping[str, Any], raw_dir: str | Path) -> list[str]:
    """The dataset's label files that exist under ``raw_dir`` (the adapter's expected files that are
    plain paths, not globs over images): inputs of the download rule, so editing one reruns the dataset."""
    expected = get_adapter(entry["format"]).expected_files(entry.get("options") or {})
    files = (Path(raw_dir) / e for e in expected if not any(c in e for c in "*?["))
    return [str(f) for f in files if f.is_file()]


def prepare_raw(dataset: str, entry: Mapping[str, Any], raw_dir: str | Path, workers: int = 1) -> dict:
    """Make the raw folder ready; returns a manifest of what was found (written by the rule).

    The manifest holds the sha256 of the label files, so an edited label file changes it and the
    dataset's downstream stages rerun; an unchanged one leaves it identical.
    """
    raw_dir = Path(raw_dir)
    fmt, options = entry["format"], entry.get("options") or {}
    if "synthesize" in entry:
        from .datasets.demo import synthesize  # skimage and scipy: not for the DAG's parse or aggregation

        manifest = synthesize(raw_dir, workers=workers, **entry["synthesize"])
    elif entry.get("url"):
        raw_dir.mkdir(parents=True, exist_ok=True)
        archive = raw_dir.parent / f".{dataset}.download"
        fetch_url(entry["url"], archive, entry.get("sha256"))
        unpack(archive, raw_dir)
        archive.unlink()
        manifest = {"url": entry["url"], "sha256": entry.get("sha256")}
    else:
        manifest = {"placed_by_user": True}
    check_raw_files(dataset, fmt, raw_dir, {**options, "obtain": entry.get("obtain") or get_adapter(fmt).obtain})
    files = sorted(p.relative_to(raw_dir).as_posix() for p in raw_dir.rglob("*") if p.is_file())
    labels = {Path(f).relative_to(raw_dir).as_posix(): sha256sum(f) for f in label_files(entry, raw_dir)}
    return {**manifest, "dataset": dataset, "format": fmt, "n_files": len(files), "label_files": labels}

