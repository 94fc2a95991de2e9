"""``python -m ferbench.figures RESULTS_DIR [--out DIR]``: every figure the files present allow, without
Snakemake (to look at a finished or copied results folder). Grad-CAM needs the models and is left to
the workflow."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from . import render
from .overview import TITLES


def jobs(
    results: Path, out: Path, order: list[str] | None = None
) -> list[tuple[str, Callable[[], list[Path]]]]:
    """(description, render call) for every figure whose inputs exist under ``results``; ``order``: the
    benchmark's model list (it fixes the model colours), else the models found, sorted."""
    todo = []
    cells = defaultdict(list)
    for f in sorted(results.glob("runs/*/*/*/metrics.json")):
        cells[(f.parts[-4], f.parts[-3])].append(f)
    found = {m for m, _ in cells}
    models = [m for m in order or [] if m in found] + sorted(found - set(order or []))
    datasets = sorted({d for _, d in cells})
    for (model, dataset), files in sorted(cells.items()):
        todo.append(
            (
                f"confusion {model}/{dataset}",
                lambda f=files, m=model, d=dataset: render.render_confusion(f, out / "confusion" / m / d),
            )
        )
        todo.append(
            (
                f"curves {model}/{dataset}",
                lambda f=files, m=model, d=dataset: render.render_curves(f, out / "curves" / m / d, models),
            )
        )
    for dataset in datasets:
        files = [f for (_, d), fs in cells.items() if d == dataset for f in fs]
        todo.append(
            (
                f"per_class {dataset}",
                lambda f=files, d=dataset: render.render_per_class(f, out / "per_class" / d, models),
            )
        )
    if cells:
        summary = results / "tables" / "summary.csv"
        source = summary if summary.exists() else [f for fs in cells.values() for f in fs]
        for metric in TITLES:
            todo.append(
                (
                    f"overview {metric}",
                    lambda s=source, m=metric: render.render_overview(
                        s, out / f"overview_{m}", m, datasets, models
                    ),
                )
            )
    for labels in sorted(results.glob("data/*/labels.parquet")):
        dataset, qc, npy = labels.parent.name, labels.parent / "qc.parquet", labels.parent / "images.npy"
        protocols = sorted(p for p in (results / "splits" / dataset).glob("*") if p.is_dir())
        # one protocol per figure: manifests of different protocols are not averaged together
        manifests = sorted(protocols[0].glob("*.parquet")) if protocols else []
        if qc.exists():
            todo.append(
                (
                    f"data {dataset}",
                    lambda lab=labels, q=qc, m=manifests, d=dataset: render.render_data(
                        lab, q, m, out / "data" / d
                    ),
                )
            )
        todo.append(
            (
                f"faces {dataset}",
                lambda lab=labels, n=npy, d=dataset: render.render_faces(
                    lab, out / "faces" / d, n if n.exists() else None
                ),
            )
        )
    return todo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ferbench.figures", description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a results folder (runs/, data/, splits/, tables/)")
    parser.add_argument("--out", type=Path, help="where to write (default: RESULTS/figures)")
    parser.add_argument(
        "--models", help="comma-separated model order, as benchmark.models (sets the colours)"
    )
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        parser.error(f"{args.results} is not a folder")
    todo = jobs(
        args.results, args.out or args.results / "figures", args.models.split(",") if args.models else None
    )
    if not todo:
        print(
            f"{args.results}: no runs/*/*/*/metrics.json and no data/*/labels.parquet: nothing to draw",
            file=sys.stderr,
        )
        return 1
    failed = 0
    for name, call in todo:
        try:
            for path in call():
                print(path)
        except Exception:  # one unreadable fold must not hide every other figure
            failed += 1
            print(f"{name}: FAILED\n{traceback.format_exc()}", file=sys.stderr)
    print(f"{len(todo) - failed} of {len(todo)} figures written", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
