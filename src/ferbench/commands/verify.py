"""``ferbench verify RESULTS_DIR``: check a results folder against its manifest, folds and tables."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

HELP = ("check a results folder: manifest, metrics from predictions, tables, best checkpoints "
        "(exit status 1 on a failure)")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path, metavar="RESULTS_DIR", help="the results folder (e.g. results)")
    parser.add_argument("--no-evaluate", action="store_true",
                        help="skip re-evaluating the best checkpoints on their test images (the slow check)")


def run(args: argparse.Namespace) -> int:
    from ..verify import verify

    counts: Counter[str] = Counter()
    for check in verify(args.results, evaluate=not args.no_evaluate):
        print(check, flush=True)
        counts[check.status] += 1
    words = {"PASS": "passed", "FAIL": "failed", "WARN": "warnings", "SKIP": "skipped"}
    verdict = "FAILED" if counts["FAIL"] else "OK"
    print(f"{verdict}: {args.results}: " + ", ".join(f"{counts[s]} {w}" for s, w in words.items()))
    return 1 if counts["FAIL"] else 0
