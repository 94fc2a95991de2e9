"""ExpW (Expression in-the-Wild, Zhang et al. 2016): web images with several labelled faces each.

Layout under ``resources/raw/expw/`` (the owners' archive: ``data/label/label.lst`` and the
``data/image/origin.7z`` images; ``options.label_file`` / ``options.images_dir`` change the paths)::

    label/label.lst      image_name face_id top left right bottom confidence label   (one face per line)
    image/origin/*.jpg   the original, uncropped web images

Labels 0..6 = angry, disgust, fear, happy, sad, surprise, neutral. The id of a face is
``{image stem}_{face_id}``. Each box, widened by ``options.margin`` (a fraction of its size, default 0)
and clamped to the image, becomes ``SourceRecord.box`` as (left, top, right, bottom); the align stage
crops it before detection. A line whose image is absent is excluded (``missing_file``), as is a box
that lies wholly outside its image (``box_outside_image``) and an image name that leaves the raw folder
(``path_outside_dataset``, never opened).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import labels
from ..images import ImageRejected, image_size
from .base import AdapterResult, MalformedLabelFile, SourceRecord
from .common import (
    BOX_OUTSIDE_IMAGE, LABEL_NOT_IN_VOCABULARY, Ledger, image_loader, option_path, parse_float, parse_int,
    read_fields,
)
from .registry import register_adapter, with_defaults

LABEL_FILE = "label/label.lst"
IMAGES_DIR = "image/origin"


def clamp_box(top: float, left: float, right: float, bottom: float, margin: float, size: tuple[int, int]
              ) -> tuple[float, float, float, float] | None:
    """ExpW's (top, left, right, bottom) -> (left, top, right, bottom) widened and clamped; None if empty."""
    w, h = size
    dx, dy = margin * (right - left), margin * (bottom - top)
    box = (max(0.0, left - dx), max(0.0, top - dy), min(float(w), right + dx), min(float(h), bottom + dy))
    return box if box[2] > box[0] and box[3] > box[1] else None


@register_adapter
class ExpwAdapter:
    name = "expw"
    obtain = ("https://mmlab.ie.cuhk.edu.hk/projects/socialrelation/index.html (ExpW; non-commercial "
              "research use only)")

    options = {"label_file": LABEL_FILE, "images_dir": IMAGES_DIR, "margin": 0.0}

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        opt = with_defaults(self.name, options)
        images_dir = option_path(opt["images_dir"], "images_dir")
        return [option_path(opt["label_file"], "label_file"), f"{images_dir}/*.jpg"]

    def read(self, raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
        opt = with_defaults(self.name, options)
        raw_dir = Path(raw_dir)
        label_name = option_path(opt["label_file"], "label_file")
        label_path, images_dir = raw_dir / label_name, raw_dir / option_path(opt["images_dir"], "images_dir")
        margin = float(opt["margin"])
        sizes: dict[str, tuple[int, int] | ImageRejected] = {}  # one header read per image, not per face
        ledger = Ledger(raw_dir)
        for lineno, fields in ledger.rows(read_fields(label_path, 8)):
            name, face_id = fields[0], fields[1]
            top, left, right, bottom = (parse_float(label_path, lineno, v, "box") for v in fields[2:6])
            code = parse_int(label_path, lineno, fields[7], "label")
            if right <= left or bottom <= top:
                raise MalformedLabelFile(label_path, lineno,
                                         f"box top={top} left={left} right={right} bottom={bottom} is empty")
            ref, source = ledger.locate(images_dir, name), f"{label_name}:{lineno}"
            rid = f"{ref.stem_id}_{face_id}"
            if ledger.refuse(ref, rid, source, must_exist=False):
                continue
            label = labels.code_to_class("expw", code)
            if label is None:
                ledger.exclude(rid, source, LABEL_NOT_IN_VOCABULARY, f"label {code} outside 0..6", ref)
                continue
            if ref.name not in sizes:
                try:
                    sizes[ref.name] = image_size(ref.path)
                except ImageRejected as e:
                    sizes[ref.name] = e
            size = sizes[ref.name]
            if isinstance(size, ImageRejected):
                ledger.exclude(rid, source, size.reason, size.detail, ref)
                continue
            box = clamp_box(top, left, right, bottom, margin, size)
            if box is None:
                ledger.exclude(rid, source, BOX_OUTSIDE_IMAGE,
                               f"box {fields[2:6]} vs image {size[0]}x{size[1]}", ref)
                continue
            ledger.keep(SourceRecord(rid, label, image_loader(ref.path), source, box=box), ref)
        return ledger.result(labels.DATASET_CLASSES["expw"])
