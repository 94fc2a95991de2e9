"""``ferbench import-checkpoint``: an official repository's trained checkpoint as a best-checkpoint folder
(``best.pt`` + ``card.json``, the contract of ``results/best/{model}/{dataset}/``), so that prediction, export
and evaluation work on published models."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

HELP = ("import an official trained checkpoint (DAN, DDAMFN, POSTER, POSTER++, Ada-DF, LNSU-Net, MFER, "
        "GSDNet) as a best-checkpoint folder")

ALIGN_NOTE = ("The official model was trained on the dataset's own face crops (its authors' alignment and "
              "resolution), not on ferbench's MTCNN alignment; `align` holds ferbench's defaults, which "
              "prediction uses, so accuracy on ferbench-aligned faces may differ from the published one.")


def configure(parser: argparse.ArgumentParser) -> None:
    from ..models._official import models_with_official_checkpoints

    parser.add_argument("--model", required=True, choices=models_with_official_checkpoints())
    parser.add_argument("file", type=Path, help="the official checkpoint (.pth / .pt / .pth.tar)")
    parser.add_argument("-o", "--out", required=True, type=Path,
                        help="the folder to write best.pt and card.json")
    parser.add_argument("--dataset", help="the dataset it was trained on (recorded in the card; without "
                                          "--classes its own label order names the output units)")
    parser.add_argument("--classes", nargs="+", metavar="CLASS",
                        help="class names in the order of the model's output units")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="unpickle a file that is not plain weights (runs code from it: trusted sources "
                             "only)")


def class_names(num_classes: int, classes: list[str] | None, dataset: str | None) -> tuple[list[str], str]:
    """The names of the output units, and where they come from."""
    from ..labels import DATASET_CLASSES

    if classes:
        names, origin = list(classes), "--classes"
    elif dataset in DATASET_CLASSES:
        names = list(DATASET_CLASSES[dataset])
        origin = (f"{dataset}'s own label order (ferbench.labels.DATASET_CLASSES), which the official label "
                  "files use; give --classes if the model was trained with another order (e.g. ImageFolder's "
                  "sorted folder names)")
    else:
        known = ", ".join(sorted(DATASET_CLASSES))
        raise ValueError(f"say what the {num_classes} output units are: --classes NAME ... in their order, "
                         f"or --dataset with one of {known}" + (f" (not {dataset!r})" if dataset else ""))
    if len(names) != num_classes:
        raise ValueError(f"the checkpoint has {num_classes} output units but {len(names)} classes were given "
                         f"({origin.split(' ')[0]}: {names})")
    return names, origin


def import_checkpoint(model_name: str, file: Path, out: Path, dataset: str | None = None,
                      classes: list[str] | None = None, trust_pickle: bool = False) -> dict:
    """Write ``out/best.pt`` (our state dict) and ``out/card.json``; return the card."""
    import torch

    from ..align import AlignConfig
    from ..download import sha256sum
    from ..io import atomic_path, write_json
    from ..models._official import load_official, model_class

    model, report = load_official(model_name, file, trust_pickle)
    names, origin = class_names(report.num_classes, classes, dataset)
    with atomic_path(out / "best.pt") as tmp:
        torch.save(model.state_dict(), tmp)
    spec = model.input_spec
    card = {
        "model": model_name, "dataset": dataset, "iteration": None,
        "classes": names, "input_size": spec.size,
        "input_spec": {"size": spec.size, "mean": list(spec.mean), "std": list(spec.std), "bgr": spec.bgr},
        "model_kwargs": report.kwargs,
        "align": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(AlignConfig()).items()},
        "align_note": ALIGN_NOTE,
        "checkpoint": "best.pt", "checkpoint_sha256": sha256sum(out / "best.pt"),
        "selected_on": "official checkpoint (chosen by its authors)",
        "val_accuracy": None, "test_accuracy": None, "test_balanced_accuracy": None,
        "source": None,
        "provenance": {
            "imported_from": file.name, "file_sha256": sha256sum(file),
            "official_code": f"https://github.com/{model_class(model_name).official_checkpoint.repo}",
            "weights_under": report.container_key, "key_map": str(report), "classes_from": origin,
            "tool": "ferbench import-checkpoint", "ferbench": _version(), "torch": torch.__version__,
            "imported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    }
    write_json(out / "card.json", card)
    return card


def _version() -> str:
    try:
        return version("ferbench")
    except PackageNotFoundError:
        return "unknown"


def run(args: argparse.Namespace) -> int:
    from ..models._official import CheckpointMismatch
    from ..models._pretrained import UntrustedPickle

    try:
        card = import_checkpoint(args.model, args.file, args.out, args.dataset, args.classes,
                                 args.trust_pickle)
    except (CheckpointMismatch, UntrustedPickle, ValueError, FileNotFoundError) as e:
        print(f"ferbench import-checkpoint: {e}", file=sys.stderr)
        return 2
    print(f"{args.model}: {card['provenance']['key_map']}")
    print(f"classes ({len(card['classes'])}): {', '.join(card['classes'])}")
    print(f"wrote {args.out / 'best.pt'} and {args.out / 'card.json'} (input {card['input_size']} px"
          f"{', BGR' if card['input_spec']['bgr'] else ''})")
    return 0
