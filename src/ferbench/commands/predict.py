"""``ferbench predict``: expressions of every face in images, folders, globs and videos."""

from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import IO, Any

HELP = "the expression of every face in images, folders, globs and videos, by a best checkpoint"

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, metavar="DIR",
                        help="best-checkpoint folder: card.json and best.pt (e.g. results/best/dan/rafdb)")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="image or video files, folders (searched recursively) and globs (quote them)")
    parser.add_argument("--out", type=Path, metavar="FILE",
                        help="write .csv or .jsonl (atomically); default: CSV on stdout")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1, ...")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N", help="faces per forward pass")
    parser.add_argument("--fps", type=float, default=1.0, metavar="F",
                        help="frames sampled per second of video (0: every frame)")


def _writer(fmt: str, stream: IO[str], columns: list[str]):
    if fmt == "jsonl":
        return lambda row: stream.write(json.dumps(row) + "\n")
    w = csv.DictWriter(stream, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    return w.writerow


def run(args: argparse.Namespace) -> int:
    from .. import predict as P
    from ..device import resolve_device
    from ..io import atomic_path

    fmt = "csv"
    if args.out is not None:
        fmt = FORMATS.get(args.out.suffix.lower())
        if fmt is None:
            print(f"error: --out {args.out}: use a .csv or .jsonl file", file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    try:
        predictor = P.Predictor(args.checkpoint, resolve_device(args.device), args.batch_size, args.fps)
    except (OSError, ValueError, KeyError, RuntimeError) as e:  # no such checkpoint, model or device
        print(f"error: {e}", file=sys.stderr)
        return 2
    files = P.expand_inputs(args.inputs)
    counts: collections.Counter[str] = collections.Counter()
    read: set[str] = set()
    frames: set[tuple[str, Any]] = set()

    def emit(stream: IO[str]) -> None:
        write = _writer(fmt, stream, predictor.columns)
        for row in predictor.rows(files):
            write(row)
            if row["reason"] not in P.UNREAD:
                read.add(row["file"])
            if row["frame"] is not None:
                frames.add((row["file"], row["frame"]))
            counts[row["reason"] or "face"] += 1

    if args.out is None:
        try:
            emit(sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:  # the reader (e.g. `| head`) stopped: not an error of ours
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
    else:
        with atomic_path(args.out) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
            emit(f)
    faces = counts.pop("face", 0)
    videos = len({f for f, _ in frames})
    seen = f"{len(read)} read" + (f", {videos} videos, {len(frames)} frames" if videos else "")
    parts = [f"{len(files)} files ({seen})", f"{faces} faces", f"{sum(counts.values())} failures"]
    if counts:
        parts[-1] += " (" + ", ".join(f"{n} {reason}" for reason, n in counts.most_common()) + ")"
    parts.append(f"{time.perf_counter() - t0:.1f} s on {predictor.device}")
    print("predict: " + ", ".join(parts) + (f" -> {args.out}" if args.out else ""), file=sys.stderr)
    if not read:
        print(f"error: none of the {len(files)} inputs could be read (see the reason column)",
              file=sys.stderr)
        return 1
    return 0
