"""``ferbench pack RESULTS_DIR -o ARCHIVE.tar.gz``: a results folder as one archive for a fresh clone."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "pack a sealed results folder into one .tar.gz to unpack (tar -xzf) next to a fresh clone"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path, metavar="RESULTS_DIR", help="the results folder (e.g. results)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="ARCHIVE.tar.gz")
    parser.add_argument("--no-checkpoints", action="store_true",
                        help="leave every best.pt out: a small archive to share the numbers "
                        "(a job that needs a missing best.pt retrains its fold)")


def run(args: argparse.Namespace) -> int:
    from ..pack import pack

    try:
        record = pack(args.results, args.output, checkpoints=not args.no_checkpoints)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.output}: {record['files']} files of {args.results}, {record['bytes'] / 2**20:.1f} MiB")
    if not record["checkpoints"]:
        print(f"left out {len(record['checkpoints_left_out'])} checkpoints (best.pt): `ferbench verify` "
              "passes without them; a Snakemake job that needs one (a best card rebuilt when the grid grows) "
              "retrains its fold first")
    print("left out: " + "; ".join(f"{k} ({v})" for k, v in record["left_out"].items()))
    print(f"unpack in a clone of the workflow: tar -xzf {args.output.name}   (creates results/)")
    return 0
