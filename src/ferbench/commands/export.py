"""``ferbench export``: a best-checkpoint folder as an ONNX graph, verified with onnxruntime."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "export a best-checkpoint folder to ONNX (verified against torch with onnxruntime)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="a folder with best.pt and card.json")
    parser.add_argument("--onnx", required=True, type=Path, help="the .onnx file to write")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="largest |logit difference| between onnxruntime and torch (default 1e-4)")


def run(args: argparse.Namespace) -> int:
    from ..export import ExportError, export_onnx, load_best

    try:
        model, card = load_best(args.checkpoint)
        report = export_onnx(model, card, args.onnx, args.tolerance)
    except (ExportError, FileNotFoundError) as e:
        print(f"ferbench export: {e}", file=sys.stderr)
        return 2
    spec = report.spec
    print(f"exported {card['model']} ({args.checkpoint}) to {args.onnx} in {report.seconds:.0f} s: "
          f"image [N,3,{spec.size},{spec.size}] {'BGR' if spec.bgr else 'RGB'} /255, mean {list(spec.mean)}, "
          f"std {list(spec.std)} -> logits [N,{len(card['classes'])}] ({', '.join(card['classes'])})")
    print(report)
    return 0
