"""``ferbench merge A B -o C``: one results folder from folders made by different people or clusters."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "merge results folders (e.g. one ran DAN, the other POSTER) into a new one, with its tables rebuilt"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", type=Path, metavar="RESULTS_DIR",
                        help="two or more sealed results folders")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="DIR",
                        help="the merged results folder (must not exist)")
    parser.add_argument("--config-out", type=Path, metavar="FILE.yaml",
                        help="also write the merged config, to continue the merged folder with --configfile")


def run(args: argparse.Namespace) -> int:
    from ..merge import MergeRefused, merge

    if len(args.sources) < 2:
        print("error: give at least two results folders", file=sys.stderr)
        return 2
    try:
        report = merge(args.sources, args.output, args.config_out)
    except (MergeRefused, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for line in report.lines():
        print(line)
    print(f"check it: ferbench verify {args.output}")
    return 0
