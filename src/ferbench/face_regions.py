"""Face-region variants of aligned faces: what a VR headset leaves visible, and a surgical mask.

Both work on an aligned uint8 RGB image and its 5 landmarks in that image's pixels, in MTCNN's order:
left eye, right eye, nose tip, left mouth corner, right mouth corner. Geometry is expressed in units of
the eye-to-mouth distance so the result does not depend on the image size or the alignment zoom.
A derived dataset ``{base}@{variant}`` applies ``variant_transform(variant)`` when its cache is built.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

VARIANTS = ("lower_face", "masked")

# The lower rim of a VR headset rests on the cheekbones: a little below the eyes, well above the nose
# tip. Fraction of the eye-line -> nose-tip distance below the eye line.
_HEADSET_RIM = 0.55
# Surgical mask: its top edge crosses the nose bridge at this fraction of eye line -> nose tip, its
# bottom reaches this many eye-to-mouth distances below the mouth, its sides this many eye distances
# beyond the eyes' midpoint.
_MASK_TOP = 0.45
_MASK_CHIN = 0.75
_MASK_HALF_WIDTH = 1.05
_MASK_COLOUR = (205, 222, 235)  # the pale blue of a surgical mask
_MASK_PLEAT = (170, 190, 205)


def _geometry(landmarks5: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    pts = np.asarray(landmarks5, dtype=np.float64).reshape(5, 2)
    eyes, nose, mouth = pts[:2].mean(axis=0), pts[2], pts[3:].mean(axis=0)
    eye_dist = float(np.linalg.norm(pts[1] - pts[0]))
    eye_mouth = float(np.linalg.norm(mouth - eyes))
    if eye_dist < 1 or eye_mouth < 1:
        raise ValueError(f"degenerate landmarks {pts.tolist()}")
    return eyes, nose, mouth, eye_dist, eye_mouth


def lower_face(image: np.ndarray, landmarks5: np.ndarray) -> np.ndarray:
    """The face below the headset rim, as a square crop centred on the mouth, resized back to the
    input's size (the private VR captures are such close-ups of the lower face)."""
    h, w = image.shape[:2]
    eyes, nose, mouth, _, _ = _geometry(landmarks5)
    rim = eyes[1] + _HEADSET_RIM * (nose[1] - eyes[1])
    top = int(np.clip(round(rim), 0, h - 1))
    side = h - top
    left = int(np.clip(round(mouth[0] - side / 2), 0, max(0, w - side)))
    crop = image[top:, left : left + side]
    return np.asarray(Image.fromarray(crop).resize((w, h), Image.Resampling.BILINEAR))


def mask_polygon(landmarks5: np.ndarray) -> list[tuple[float, float]]:
    """Outline of the mask: across the nose bridge, down the cheeks, round under the chin."""
    eyes, nose, mouth, eye_dist, eye_mouth = _geometry(landmarks5)
    top_y = eyes[1] + _MASK_TOP * (nose[1] - eyes[1])
    half = _MASK_HALF_WIDTH * eye_dist
    cx = (eyes[0] + mouth[0]) / 2
    chin_y = mouth[1] + _MASK_CHIN * eye_mouth
    return [
        (cx - half, top_y + 0.15 * eye_mouth),  # upper left, on the cheek
        (cx, top_y),  # nose bridge
        (cx + half, top_y + 0.15 * eye_mouth),
        (cx + 0.95 * half, mouth[1] + 0.2 * eye_mouth),  # down the right cheek
        (cx + 0.55 * half, chin_y - 0.1 * eye_mouth),
        (cx, chin_y),  # under the chin
        (cx - 0.55 * half, chin_y - 0.1 * eye_mouth),
        (cx - 0.95 * half, mouth[1] + 0.2 * eye_mouth),
    ]


def masked(image: np.ndarray, landmarks5: np.ndarray) -> np.ndarray:
    """The face with a synthetic surgical mask drawn over nose, mouth and chin (M-LFW-FER style)."""
    eyes, nose, mouth, eye_dist, eye_mouth = _geometry(landmarks5)
    out = Image.fromarray(np.ascontiguousarray(image))
    draw = ImageDraw.Draw(out)
    draw.polygon(mask_polygon(landmarks5), fill=_MASK_COLOUR)
    # three horizontal pleats, so the mask reads as fabric and not as a flat occluder
    cx, half = (eyes[0] + mouth[0]) / 2, 0.8 * _MASK_HALF_WIDTH * eye_dist
    for k in (0.35, 0.7, 1.05):
        y = nose[1] + k * (mouth[1] - nose[1] + 0.3 * eye_mouth)
        draw.line([(cx - half, y), (cx + half, y)], fill=_MASK_PLEAT, width=max(1, round(eye_dist / 30)))
    return np.asarray(out)


def _default_landmarks(image: np.ndarray, zoom: float) -> np.ndarray:
    """Where the align stage's template (at the configured ``align.zoom``) puts the 5 points, for faces
    kept by the centre-crop fallback, which have no detected landmarks."""
    from .align import template  # heavy (torch) import, only on this fallback

    return template(image.shape[0], zoom)


def variant_transform(name: str, zoom: float) -> Callable[[np.ndarray, np.ndarray | None], np.ndarray]:
    """``(aligned image, aligned landmarks or None) -> image`` for the derived dataset ``{base}@{name}``;
    ``zoom`` is the ``align.zoom`` the faces were aligned with."""
    fns = {"lower_face": lower_face, "masked": masked}
    try:
        fn = fns[name]
    except KeyError:
        raise KeyError(f"unknown face-region variant {name!r}; known: {', '.join(VARIANTS)}") from None
    return lambda image, landmarks: fn(image, landmarks if landmarks is not None else _default_landmarks(image, zoom))
