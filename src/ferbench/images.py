"""Decoding images into RGB uint8 arrays, with the reason when an image cannot be used.

Readable-but-odd images (grayscale, palette, RGBA, 16-bit, CMYK, EXIF-rotated) are converted and kept;
files that are missing, unreadable, truncated, or blank are rejected with a reason that the alignment
stage records in the QC table, and so are images whose header announces more than ``MAX_PIXELS``
pixels (a decompression bomb, or a photo far larger than a face needs), before any pixel is decoded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Exclusion reasons shared by every stage, so the QC table uses one vocabulary.
MISSING_FILE = "missing_file"
UNREADABLE = "unreadable_image"
TRUNCATED = "truncated_image"
BLANK = "blank_image"
BAD_PIXELS = "wrong_pixel_count"  # a pixel string (FER2013) that is not a side x side grey image
TOO_MANY_PIXELS = "too_many_pixels"  # the header announces more than MAX_PIXELS pixels

# 64 megapixels (8000 x 8000): a decoded RGB copy is at most 192 MB. Below Pillow's own limit
# (``Image.MAX_IMAGE_PIXELS``, which only warns up to twice its value), so it always applies first.
MAX_PIXELS = 64_000_000

# A face image whose pixels barely vary carries no expression (all-black frames, solid fills).
_BLANK_STD = 2.0
_EXIF_ORIENTATION = 0x0112


class ImageRejected(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


def to_rgb(img: Image.Image) -> np.ndarray:
    """Any PIL mode -> HxWx3 uint8, EXIF orientation applied (``img`` itself is rotated in place)."""
    ImageOps.exif_transpose(img, in_place=True)  # no copy when there is nothing to turn
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grayscale: rescale to 8 bits instead of clipping at 255.
        arr = np.asarray(img, dtype=np.float64)
        hi = arr.max() if arr.size else 0.0
        arr = arr * (255.0 / hi) if hi > 255 else arr
        img = Image.fromarray(arr.clip(0, 255).astype(np.uint8), mode="L")
    elif img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        scale = 255.0 if arr.max(initial=0.0) <= 1.0 else 1.0
        img = Image.fromarray((arr * scale).clip(0, 255).astype(np.uint8), mode="L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Composite transparency onto black rather than keep undefined colour under alpha 0.
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (0, 0, 0, 255))
        img = Image.alpha_composite(background, img)
    return _rgb_array(img if img.mode == "RGB" else img.convert("RGB"))


def _rgb_array(img: Image.Image, band_bytes: int = 1 << 22) -> np.ndarray:
    """An RGB image's pixels, copied a band of rows at a time: ``np.asarray(img)`` goes through
    ``tobytes``, which holds the pixels twice more while it joins them (a 6000x6000 photo: +216 MB)."""
    w, h = img.size
    out = np.empty((h, w, 3), dtype=np.uint8)
    rows = max(1, band_bytes // max(1, 3 * w))
    for top in range(0, h, rows):
        out[top : top + rows] = np.asarray(img.crop((0, top, w, min(h, top + rows))))
    return out


def pixel_std(arr: np.ndarray, band_values: int = 1 << 20) -> float:
    """Standard deviation of all values, a band of rows at a time: ``arr.std()`` makes a float64 copy
    (864 MB for a 6000x6000 RGB photo)."""
    total, squares = 0, 0
    rows = max(1, band_values * arr.shape[0] // arr.size)
    for start in range(0, arr.shape[0], rows):
        band = arr[start : start + rows].astype(np.int64)
        total += int(band.sum())
        squares += int((band * band).sum())
    mean = total / arr.size
    return max(squares / arr.size - mean * mean, 0.0) ** 0.5


def check_not_blank(arr: np.ndarray, name: str = "") -> np.ndarray:
    std = pixel_std(arr) if arr.size else 0.0
    if std < _BLANK_STD:
        raise ImageRejected(BLANK, f"{name} has no contrast (std {std:.2f})")
    return arr


def gray_to_rgb(arr: np.ndarray) -> np.ndarray:
    """HxW uint8 -> HxWx3 uint8 (models take three channels)."""
    return np.ascontiguousarray(np.repeat(arr[..., None], 3, axis=-1))


def parse_pixels(text: str, side: int) -> np.ndarray:
    """A FER2013-style string of ``side*side`` space-separated 0..255 values -> HxW uint8.

    Raises ``ImageRejected(BAD_PIXELS)``: a short, long or non-numeric string is a label-level defect
    of that row, not a decoding problem.
    """
    values = text.split()
    if len(values) != side * side:
        raise ImageRejected(BAD_PIXELS, f"{len(values)} values, expected {side * side}")
    try:
        arr = np.array(values, dtype=np.int32)
    except ValueError as e:
        raise ImageRejected(BAD_PIXELS, f"non-integer value ({e})") from None
    if arr.min() < 0 or arr.max() > 255:
        raise ImageRejected(BAD_PIXELS, f"values outside 0..255 (min {arr.min()}, max {arr.max()})")
    return arr.astype(np.uint8).reshape(side, side)


def _check_pixels(img: Image.Image, path: Path) -> None:
    w, h = img.size
    if w * h > MAX_PIXELS:
        raise ImageRejected(TOO_MANY_PIXELS, f"{path}: {w}x{h} = {w * h} pixels > {MAX_PIXELS} (not decoded)")


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) as ``load_rgb`` will return it (EXIF rotation applied), from the header only."""
    path = Path(path)
    if not path.is_file():
        raise ImageRejected(MISSING_FILE, str(path))
    try:
        with Image.open(path) as img:
            _check_pixels(img, path)
            w, h = img.size
            # orientations 5..8 swap the axes; reading the tag does not decode pixels
            rotated = img.getexif().get(_EXIF_ORIENTATION, 1) in (5, 6, 7, 8)
    except Image.DecompressionBombError as e:
        raise ImageRejected(TOO_MANY_PIXELS, f"{path}: {e}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise ImageRejected(UNREADABLE, f"{path}: {e}") from None
    return (h, w) if rotated else (w, h)


def load_rgb(path: str | Path) -> np.ndarray:
    """Decode ``path`` fully (so truncation is caught here, not in training)."""
    path = Path(path)
    if not path.is_file():
        raise ImageRejected(MISSING_FILE, str(path))
    try:
        with Image.open(path) as img:
            _check_pixels(img, path)  # from the header, before decoding
            img.load()
            arr = to_rgb(img)
    except Image.DecompressionBombError as e:  # Pillow's own check, at open
        raise ImageRejected(TOO_MANY_PIXELS, f"{path}: {e}") from None
    except UnidentifiedImageError as e:
        raise ImageRejected(UNREADABLE, f"{path}: {e}") from None
    except OSError as e:
        reason = TRUNCATED if "truncated" in str(e).lower() or "broken" in str(e).lower() else UNREADABLE
        raise ImageRejected(reason, f"{path}: {e}") from None
    except (ValueError, SyntaxError) as e:
        raise ImageRejected(UNREADABLE, f"{path}: {e}") from None
    return check_not_blank(arr, str(path))
