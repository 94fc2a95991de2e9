"""``ferbench merge A B [...] -o C``: one results folder from folders made by different people or clusters
(e.g. one ran DAN, the other POSTER on the same datasets).

The merged grid is the union of the folders' grids (datasets, models, the largest iteration count); its
folds are copied with their timestamps, together with the upstream files they were trained on (raw
manifests, aligned faces, label tables, image caches, splits); then the summary, the tables, the best
cards and checkpoints, ``provenance.json`` and ``MANIFEST.sha256`` are rebuilt by the aggregation's own
functions. A fold present in several folders with identical files is taken once.

Refused, with a message naming the folders, files and folds: a folder whose files do not match its
manifest (or that was packed without checkpoints); a dataset split under different protocols; a dataset
whose label table, QC table, summary, image cache, raw manifest or alignment differ between folders
(folds on different data cannot share a table); a split that differs between folders; a fold present
in several folders with different files (trained twice); a merged grid that needs folds no folder has.

Among identical copies of an upstream file the oldest is taken, so every output stays newer than its
inputs and Snakemake, pointed at the merged folder with the merged config (``--config-out``), has
nothing to do.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import config as fc
from . import layout
from .aggregate import best_card, copy_best_checkpoint, write_summary, write_table
from .grid import Grid
from .io import current_umask, write_json, write_text
from .manifest import write_manifest, write_results_provenance
from .verify import Folder, differing_keys, flatten, manifest_problems

UPSTREAM_OF_BASE = (layout.RAW_MANIFEST, layout.ALIGNMENT)
UPSTREAM_OF_DATASET = (layout.LABELS, layout.QC, layout.DATA_SUMMARY, layout.CACHE)
FOLD_KEYS, CROSS_KEYS = ("model", "dataset", "iteration"), ("model", "train", "test", "iteration")
# the grid keys the union sets; every other config difference is reported
GRID_KEYS = ("benchmark.datasets", "benchmark.models", "benchmark.iterations", "benchmark.cross_dataset")


class MergeRefused(ValueError):
    """The folders cannot be merged into one benchmark; the message says which files and folds."""


@dataclass
class MergeReport:
    out: Path
    grid: Grid
    folds_from: dict[str, list[str]]  # source folder -> folds taken from it
    deduplicated: list[str]  # folds and cross-dataset evaluations found identical in several folders
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        g = self.grid
        out = [f"{self.out}: {', '.join(g.models)} × {', '.join(g.datasets)} × {g.iterations} iterations"]
        out += [f"  {len(folds)} folds from {src}" for src, folds in self.folds_from.items()]
        if self.deduplicated:
            out.append(f"  {len(self.deduplicated)} folds or evaluations identical in several folders, "
                       "taken once: "
                       + ", ".join(self.deduplicated[:6]) + (" …" if len(self.deduplicated) > 6 else ""))
        out += [f"note: {n}" for n in self.notes]
        return out


def merge(sources: Sequence[str | Path], out: str | Path,
          config_out: str | Path | None = None) -> MergeReport:
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MergeRefused(f"{out} exists: merge writes a new results folder")
    folders = [_open(s) for s in sources]
    grid = union_grid(folders)
    files, dirs, folds_from, dedup = plan(folders, grid)
    config, notes = union_config(folders, grid)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it 0700; the folder follows the umask
    try:
        for rel, src in sorted(dirs.items()):
            shutil.copytree(src, tmp / rel, copy_function=shutil.copy2)
        for rel, src in sorted(files.items()):
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, tmp / rel)
        record = [{"folder": str(f.root.resolve()), "folds": len(folds_from[_name(f)]),
                   **{k: f.provenance.get(k) for k in ("grid", "code_versions", "aggregated_by", "merge")
                      if f.provenance.get(k) is not None}} for f in folders]
        seal(tmp, grid, config, folders, {"merge": {"merged_from": record, "notes": notes}})
        if out.exists():
            out.rmdir()
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if config_out is not None:
        write_text(config_out, "# the merged config of " + ", ".join(map(str, sources)) + "\n"
                   + yaml.safe_dump(config, sort_keys=False))
    return MergeReport(out, grid, folds_from, dedup, notes)


def _name(folder: Folder) -> str:
    return str(folder.root)


def _open(path: str | Path) -> Folder:
    folder = Folder.open(path)
    missing, changed, not_packed = manifest_problems(folder)
    if missing or changed:
        raise MergeRefused(f"{path} does not match its {layout.MANIFEST} ({len(missing)} files missing, "
                           f"{len(changed)} changed, e.g. {(missing + changed)[0]}); "
                           f"run ferbench verify {path}")
    if not_packed:
        raise MergeRefused(f"{path} was unpacked from an archive made without checkpoints "
                           f"({len(not_packed)} best.pt absent): the merged best checkpoints need them")
    return folder


def union_grid(folders: Sequence[Folder]) -> Grid:
    """Models, datasets and cross-dataset lists united, the largest iteration count; refused when a
    dataset has two protocols or when a fold or cross-dataset evaluation of the union is in no folder."""
    protocols: dict[str, dict[str, list[str]]] = {}
    for f in folders:
        for d, p in f.grid.protocols:
            protocols.setdefault(d, {}).setdefault(p, []).append(_name(f))
    for d, seen in protocols.items():
        if len(seen) > 1:
            raise MergeRefused(f"dataset {d!r} is split with different protocols: " +
                               "; ".join(f"{p} in {', '.join(s)}" for p, s in seen.items()))
    datasets = _ordered(d for f in folders for d in f.grid.datasets)
    grid = Grid(datasets, _ordered(m for f in folders for m in f.grid.models),
                max(f.grid.iterations for f in folders),
                tuple((d, next(iter(protocols[d]))) for d in datasets),
                _ordered(d for f in folders for d in f.grid.cross_train),
                _ordered(d for f in folders for d in f.grid.cross_test))
    words = (f"the merged grid ({', '.join(grid.models)} × {', '.join(grid.datasets)} × {grid.iterations} "
             "iterations")
    have = {fold for f in folders for fold in f.grid.folds()}
    if lacking := [fold for fold in grid.folds() if fold not in have]:
        raise MergeRefused(
            f"{words}) needs {len(lacking)} folds that no folder has: " + _fold_list(lacking) +
            ". Train them in one of the folders first (grow its grid), or merge folders that cover the same "
            "datasets and iterations")
    have_cross = {job for f in folders for job in f.grid.cross_jobs()}
    if lacking := [job for job in grid.cross_jobs() if job not in have_cross]:
        raise MergeRefused(
            f"{words}, cross-dataset evaluations trained on {', '.join(grid.cross_train)} and tested on "
            f"{', '.join(grid.cross_test)}) needs {len(lacking)} evaluations that no folder has: "
            + _fold_list(lacking, pattern=layout.CROSS) + ". Run them in one of the folders first")
    return grid


def _ordered(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _fold_list(jobs: Sequence[tuple], limit: int = 8, pattern: str = layout.FOLD) -> str:
    """Fold folders (or cross-dataset evaluations, ``pattern=layout.CROSS``) by name."""
    keys = FOLD_KEYS if pattern == layout.FOLD else CROSS_KEYS
    names = [pattern.format(**dict(zip(keys, job))) for job in jobs]
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _digest(folder: Folder, rel: str) -> str:
    """The manifest's sha256 (checked against the file when the folder was opened), else the file's."""
    return folder.manifest.get(rel) or folder.sha256(rel)


def _one_content(having: Sequence[Folder], rel: str, why: str) -> None:
    digests = {_name(f): _digest(f, rel) for f in having}
    if len(set(digests.values())) > 1:
        raise MergeRefused(f"{rel} differs between " + " and ".join(f"{n} (sha256 {d[:12]}…)" for n, d in
                                                                  digests.items()) + f": {why}")


def plan(folders: Sequence[Folder],
         grid: Grid) -> tuple[dict[str, Path], dict[str, Path], dict[str, list[str]], list[str]]:
    """What to copy: (files, folders) as {relative path: source path}, the folds taken from each
    folder, and the folds and evaluations deduplicated. Refuses what cannot share one benchmark."""
    files: dict[str, Path] = {}
    dirs: dict[str, Path] = {}
    for d in grid.label_datasets:
        _plan_data(folders, d, files, dirs)
    for d in grid.datasets:
        for i in range(grid.iterations):
            rel = layout.SPLIT.format(dataset=d, protocol=grid.protocol(d), iteration=i)
            having = [f for f in folders if d in f.grid.datasets and i < f.grid.iterations]
            folds = "; ".join(f"{_fold_list([x for x in f.grid.folds() if x[1:] == (d, i)], 4)} in {_name(f)}"
                              for f in having)
            _one_content(having, rel, f"these folds were trained on different splits: {folds}")
            files[rel] = _oldest(having, rel)
    folds_from: dict[str, list[str]] = {_name(f): [] for f in folders}
    dedup = []
    jobs = [(layout.FOLD, FOLD_KEYS, layout.FOLD_FILES, grid.folds(), Grid.folds, "trained"),
            (layout.CROSS, CROSS_KEYS, (layout.CROSS_METRICS, layout.CROSS_PREDICTIONS), grid.cross_jobs(),
             Grid.cross_jobs, "evaluated")]
    for pattern, keys, patterns, wanted, jobs_of, made in jobs:
        for job in wanted:
            wc = dict(zip(keys, job))
            name = pattern.format(**wc)
            having = [f for f in folders if job in set(jobs_of(f.grid))]
            rels = [p.format(**wc) for p in patterns]
            if differ := [Path(r).name for r in rels if len({_digest(f, r) for f in having}) > 1]:
                raise MergeRefused(
                    f"{name} is in {' and '.join(_name(f) for f in having)} with different files "
                    f"({', '.join(differ)}): it was {made} twice. Keep one: remove {wc['model']!r} (or this "
                    "dataset) from one folder's config and rebuild its tables there, then merge")
            if len(having) > 1:
                dedup.append(name)
            files.update({r: having[0].path(r) for r in rels})
            if pattern == layout.FOLD:
                folds_from[_name(having[0])].append(name)
    return files, dirs, folds_from, dedup


def _plan_data(folders: Sequence[Folder], dataset: str, files: dict[str, Path],
               dirs: dict[str, Path]) -> None:
    """The upstream files of one dataset: identical in every folder that has them, the oldest copy taken."""
    users = [f for f in folders if dataset in f.grid.label_datasets]
    trained = "; ".join(f"{_fold_list([x for x in f.grid.folds() if x[1] == dataset], 4) or 'tested on'} in "
                        f"{_name(f)}" for f in users)
    base = fc.split_variant(dataset)[0]
    upstream = ([p.format(base=base) for p in UPSTREAM_OF_BASE]
                + [p.format(dataset=dataset) for p in UPSTREAM_OF_DATASET])
    for rel in upstream:
        having = [f for f in users if f.path(rel).is_file()]
        _one_content(having, rel, "the folders were made from different data or alignment/label settings, "
                     f"and folds trained on different data cannot share a table ({trained})")
        if having:
            files[rel] = _oldest(having, rel)
    aligned, alignment = layout.ALIGNED_IMAGES.format(base=base), layout.ALIGNMENT.format(base=base)
    with_images = [f for f in users if f.path(aligned).is_dir()]
    if with_images:  # the aligned faces travel with the alignment table they belong to
        dirs[aligned] = min(with_images, key=lambda f: f.path(alignment).stat().st_mtime_ns
                            if f.path(alignment).is_file() else 0).path(aligned)


def _oldest(having: Sequence[Folder], rel: str) -> Path:
    """Of identical copies, the oldest: every output copied from any folder stays newer than it."""
    return min((f.path(rel) for f in having), key=lambda p: p.stat().st_mtime_ns)


def union_config(folders: Sequence[Folder], grid: Grid) -> tuple[dict, list[str]]:
    """The folders' configs merged (the first folder's value wins a conflict, which is reported), with the
    union grid and each dataset's protocol; notes on what differs."""
    configs = [f.provenance.get("config") or {} for f in folders]
    merged: dict = {}
    for c in reversed(configs):
        merged = fc.deep_merge(merged, c)
    bench = merged.setdefault("benchmark", {})
    bench.update(datasets=list(grid.datasets), models=list(grid.models), iterations=grid.iterations)
    bench.pop("cross_dataset", None)
    if grid.cross_train:
        bench["cross_dataset"] = {"train": list(grid.cross_train), "test": list(grid.cross_test)}
    notes = []
    for d in grid.datasets:
        base = fc.split_variant(d)[0]
        try:
            if fc.protocol(merged, d) != grid.protocol(d):
                merged["datasets"][base]["protocol"] = grid.protocol(d)
        except KeyError as e:
            notes.append(f"the merged config cannot place dataset {d!r}: {e}")
    try:
        if Grid.from_config(merged) != grid:
            notes.append(f"the merged config describes another grid ({Grid.from_config(merged).as_dict()})")
    except KeyError as e:
        notes.append(f"the merged config is incomplete: {e}")
    for key in differing_keys(configs):
        if not key.startswith(GRID_KEYS):
            values = ", ".join(f"{_name(f)} {flatten(c).get(key)!r}" for f, c in zip(folders, configs))
            notes.append(f"config {key} differs ({values}); the merged config keeps {_name(folders[0])}'s")
    for m in grid.models:
        trained = next((f.json(layout.METRICS.format(model=m, dataset=d, iteration=i)).get("recipe")
                        for f in folders for mm, d, i in f.grid.folds() if mm == m), None)
        try:
            recipe = fc.recipe(merged, m)
        except KeyError as e:
            notes.append(f"the merged config has no recipe for {m!r}: {e}")
            continue
        if trained is not None and json.dumps(trained, sort_keys=True) != json.dumps(recipe, sort_keys=True):
            notes.append(f"the merged config gives {m!r} another recipe than its folds were trained with "
                         f"({', '.join(differing_keys([trained, recipe])[:3])}): new {m} folds would differ")
    return merged, notes


def seal(root: Path, grid: Grid, config: dict, folders: Sequence[Folder], provenance_extra: dict) -> None:
    """Rebuild everything the aggregation writes, in the workflow's order, with its functions
    (``grid.json`` first: it is an input of the aggregation, and must be older than its outputs)."""
    grid.sync_file(root / layout.GRID)
    write_summary(grid.fold_files(layout.METRICS, root), root / layout.SUMMARY)
    for m, d in grid.cells():
        card = best_card(grid.fold_files(layout.METRICS, root, m, d), root)
        # what the workflow adds to a card from its config (model kwargs, alignment, protocol): from the
        # card of the folder the selected fold came from
        source = next(f for f in folders if (m, d, card["iteration"]) in set(f.grid.folds()))
        old_card = source.json(layout.BEST_CARD.format(model=m, dataset=d))
        card_path = layout.path(root, layout.BEST_CARD, model=m, dataset=d)
        write_json(card_path, {k: v for k, v in old_card.items() if k not in card} | card)
        copy_best_checkpoint(card_path, root, layout.path(root, layout.BEST_CHECKPOINT, model=m, dataset=d))
    write_results_provenance(grid.as_dict(), config, grid.fold_files(layout.FOLD_PROVENANCE, root),
                             root / layout.PROVENANCE, provenance_extra)
    write_manifest(grid.sealed_files(root), root, root / layout.MANIFEST)
    for metric in layout.TABLE_METRICS:
        write_table(root / layout.SUMMARY, metric, grid.datasets, grid.models,
                    layout.table_path(root, metric))
