"""Where a results folder's time went: the Snakemake ``benchmark:`` files summed per stage and per rule.

Every rule writes ``results/benchmarks/{stage}/{name}.tsv`` (``ferbench.layout.BENCHMARK``). This sums
them: jobs, wall seconds (total, mean, max), CPU seconds and the largest resident memory. Wall seconds
of jobs that ran side by side add up, so the total is the work done, not the run's elapsed time.
Snakemake samples CPU time every 0.5 s for a job's first 15 s, then every 30 s, so the CPU column is a
lower bound for long jobs (a training job loses up to its last 30 s).

Rules are told apart by their benchmark names with the grid's values (models, datasets, protocols,
iterations, metrics and table names) replaced by ``*``: ``train/*/*/*``, ``aggregate/table_*``.

    python benchmarks/report.py [results] [--by stage|rule]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ferbench import layout


@dataclass
class Total:
    jobs: int = 0
    seconds: list[float] = field(default_factory=list)
    cpu: float = 0.0
    max_rss: float = 0.0

    def add(self, seconds: float, cpu: float | None, rss: float | None) -> None:
        self.jobs += 1
        self.seconds.append(seconds)
        self.cpu += cpu or 0.0
        self.max_rss = max(self.max_rss, rss or 0.0)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:  # "NA": the job ended before Snakemake's first sample
        return None


def read_benchmark(path: Path) -> list[dict[str, str]]:
    """The rows of one benchmark TSV (one per repeat; ``benchmark: repeat(...)`` writes several)."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or "s" not in rows[0]:
        raise ValueError(f"{path}: not a Snakemake benchmark file (no 's' column)")
    return rows


def grid_values(results: Path) -> set[str]:
    """Names that stand for wildcard values in benchmark names: the grid's, the metrics', the tables'."""
    names = {*layout.TABLE_METRICS, "significance", *(f"cross_dataset_{m}" for m in layout.TABLE_METRICS)}
    grid_file = results / layout.GRID
    if grid_file.is_file():
        grid = json.loads(grid_file.read_text())
        cross = grid.get("cross_dataset") or {}
        names |= {*grid["datasets"], *grid["models"], *grid["protocols"].values(),
                  *cross.get("train", ()), *cross.get("test", ())}
    return names


def rule_key(stage: str, name: str, values: set[str]) -> str:
    """``train/resnet18/demo/0`` -> ``train/*/*/*``; ``aggregate/table_accuracy`` -> ``aggregate/table_*``."""
    suffix = re.compile(r"_(" + "|".join(sorted(map(re.escape, values), key=len, reverse=True)) + r")$")
    parts = []
    for part in name.split("/"):
        if part in values or part.isdigit():
            parts.append("*")
        else:
            parts.append(suffix.sub("_*", part))
    return "/".join([stage, *parts])


def summarise(results: Path, by: str = "stage") -> dict[str, Total]:
    root = results / Path(layout.BENCHMARK).parts[0]
    if not root.is_dir():
        raise SystemExit(f"{root}: no benchmark files (run the workflow first)")
    values = grid_values(results) if by == "rule" else set()
    totals: dict[str, Total] = {}
    for path in sorted(root.rglob("*.tsv")):
        rel = path.relative_to(root).with_suffix("").as_posix()
        stage, _, name = rel.partition("/")
        key = stage if by == "stage" else rule_key(stage, name, values)
        for row in read_benchmark(path):
            totals.setdefault(key, Total()).add(float(row["s"]), _number(row.get("cpu_time", "NA")),
                                                _number(row.get("max_rss", "NA")))
    return totals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="?", default=layout.RESULTS, type=Path)
    ap.add_argument("--by", choices=("stage", "rule"), default="stage")
    args = ap.parse_args()
    totals = summarise(args.results, args.by)
    width = max([len(args.by), *map(len, totals)]) + 2
    print(f"{args.by:<{width}}{'jobs':>6}{'total s':>10}{'mean s':>9}{'max s':>9}{'CPU s':>9}"
          f"{'max RSS MB':>12}")
    for key, t in sorted(totals.items(), key=lambda kv: -sum(kv[1].seconds)):
        total = sum(t.seconds)
        print(f"{key:<{width}}{t.jobs:>6}{total:>10.1f}{total / t.jobs:>9.1f}{max(t.seconds):>9.1f}"
              f"{t.cpu:>9.1f}{t.max_rss:>12.0f}")
    jobs = sum(t.jobs for t in totals.values())
    cpu = sum(t.cpu for t in totals.values())
    seconds = sum(sum(t.seconds) for t in totals.values())
    print(f"{'all':<{width}}{jobs:>6}{seconds:>10.1f}{seconds / max(jobs, 1):>9.1f}{'':>9}{cpu:>9.1f}")
    print(f"seconds {seconds:.1f}")


if __name__ == "__main__":
    main()
