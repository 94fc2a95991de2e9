"""The embedded demo dataset: expressions synthesised from one public-domain portrait.

The NASA astronaut portrait that scikit-image ships (``skimage.data.astronaut()``, Eileen Collins,
public domain) is warped with landmark-driven piecewise-affine transforms into five expression classes,
then placed on random backgrounds with random rotation, scale, translation, flips, colour and
brightness jitter and noise, so that MTCNN has real detection and alignment work to do. Everything is
deterministic from one seed. The result is written in the generic ``folder`` layout
(``{class}/{image_id}.png``), so the demo goes through the same adapter as a user's own data.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata
from scipy.ndimage import map_coordinates
from skimage.transform import AffineTransform, PiecewiseAffineTransform
from threadpoolctl import threadpool_limits

from ..io import write_with

CLASSES = ("neutral", "happy", "sad", "surprise", "angry")

# Landmarks of the portrait's face in ``astronaut()`` pixels (x, y), measured once with MTCNN and by eye.
_EYE_L, _EYE_R = (205.0, 102.0), (247.0, 104.0)
_MOUTH_L, _MOUTH_R = (202.0, 139.0), (245.0, 142.0)
_MOUTH_TOP, _MOUTH_BOTTOM = (224.0, 136.0), (224.0, 147.0)
_BROW_L_IN, _BROW_L_OUT = (215.0, 90.0), (196.0, 91.0)
_BROW_R_IN, _BROW_R_OUT = (236.0, 91.0), (256.0, 93.0)
_FACE_BOX = (165.0, 40.0, 285.0, 200.0)  # generous crop around the head (left, top, right, bottom)
# Only this top-left window of the portrait is ever warped (the rest is shoulders and background).
_CROP_RIGHT, _CROP_BOTTOM = 340, 270

_CONTROL = np.array(
    [_MOUTH_L, _MOUTH_R, _MOUTH_TOP, _MOUTH_BOTTOM, _BROW_L_IN, _BROW_L_OUT, _BROW_R_IN, _BROW_R_OUT,
     _EYE_L, _EYE_R, (225.0, 129.0)]
)
# Displacements (dx, dy) of each control point per class, in source pixels at full intensity.
_MOVES = {
    "neutral": {},
    "happy": {0: (-8, -12), 1: (8, -12), 3: (0, 4)},
    "sad": {0: (3, 12), 1: (-3, 12), 4: (0, -8), 6: (0, -8), 5: (0, 5), 7: (0, 5)},
    "surprise": {3: (0, 18), 0: (4, 4), 1: (-4, 4), 4: (0, -11), 5: (0, -11), 6: (0, -11), 7: (0, -11)},
    "angry": {4: (5, 12), 6: (-5, 12), 5: (0, 6), 7: (0, 6), 0: (4, 2), 1: (-4, 2), 3: (0, -4)},
}


def _anchor_grid() -> np.ndarray:
    """Fixed points that pin the warp outside the face (a grid around and at the crop border)."""
    left, top, right, bottom = _FACE_BOX
    xs, ys = np.linspace(left - 40, right + 40, 7), np.linspace(top - 40, bottom + 40, 7)
    grid = np.array([(x, y) for x in xs for y in ys])
    # keep only anchors that are not too close to a moving landmark
    dist = np.linalg.norm(grid[:, None] - _CONTROL[None], axis=-1).min(axis=1)
    # the window's border too, so the mesh covers every pixel and nothing outside the face moves
    w, h = _CROP_RIGHT - 1, _CROP_BOTTOM - 1
    border = [(x, y) for x in (0, w / 2, w) for y in (0, h / 2, h) if (x, y) != (w / 2, h / 2)]
    return np.vstack([grid[dist > 25], border])


@cache
def _displacement(label: str) -> np.ndarray:
    """Where the class's warp at full intensity reads each portrait pixel from, minus the pixel: (2, h, w).

    A piecewise-affine map moves the class's landmarks by their displacement; the anchors pin everything
    outside the face. Computed once per class and process, then scaled by each sample's intensity.
    """
    h, w = _CROP_BOTTOM, _CROP_RIGHT
    moves = _MOVES[label]
    if not moves:
        return np.zeros((2, h, w))
    dst = _CONTROL.copy()
    for i, (dx, dy) in moves.items():
        dst[i] += np.array([dx, dy])
    anchors = _anchor_grid()
    # the warp maps output coords to input coords, so estimate output(dst) -> input(src)
    tform = PiecewiseAffineTransform.from_estimate(np.vstack([dst, anchors]), np.vstack([_CONTROL, anchors]))
    if not tform:
        raise RuntimeError("piecewise-affine estimate failed")
    yy, xx = np.mgrid[0:h, 0:w]
    grid = np.column_stack([xx.ravel(), yy.ravel()]).astype(np.float64)
    field = (tform(grid) - grid).T.reshape(2, h, w)
    field.setflags(write=False)
    return field


def _sample(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bilinear samples of every channel of ``image`` at (rows, cols), edge pixels repeated outside."""
    return np.stack([map_coordinates(image[..., c].astype(np.float64), [rows, cols], order=1, mode="nearest")
                     for c in range(image.shape[-1])], axis=-1)


def expression_warp(image: np.ndarray, label: str, intensity: float) -> np.ndarray:
    """The portrait with the class's landmarks moved by ``intensity`` × their displacement."""
    if not _MOVES[label]:
        return image
    dx, dy = intensity * _displacement(label)
    yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    return np.rint(_sample(image, yy + dy, xx + dx)).astype(np.uint8)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random two-colour gradient with blotches: enough clutter to make detection non-trivial."""
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    angle = rng.uniform(0, np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / size
    ramp = (np.cos(angle) * xx + np.sin(angle) * yy)[..., None]
    bg = c0 * (1 - ramp) + c1 * ramp
    for _ in range(int(rng.integers(2, 6))):
        cx, cy, r = rng.uniform(0, size, 2).tolist() + [rng.uniform(size / 12, size / 4)]
        mask = ((xx * size - cx) ** 2 + (yy * size - cy) ** 2) < r**2
        bg[mask] = rng.uniform(0, 255, 3)
    return bg


def render_sample(base: np.ndarray, label: str, rng: np.random.Generator, size: int = 160) -> np.ndarray:
    """One demo image: expression warp, then a random similarity transform onto a background.

    Both warps are composed into one lookup per output pixel, so the portrait is interpolated once and
    only at the pixels the output shows.
    """
    intensity = rng.uniform(1.0, 1.4)
    left, top, right, bottom = _FACE_BOX
    cx, cy = (left + right) / 2, (top + bottom) / 2 + 5
    face_size = right - left
    scale = rng.uniform(0.5, 0.75) * size / face_size
    rotation = np.deg2rad(rng.uniform(-15, 15))
    shift = rng.uniform(-0.08, 0.08, 2) * size
    # output = R·S·(input - centre) + size/2 + shift
    tform = (
        AffineTransform(translation=(-cx, -cy))
        + AffineTransform(scale=scale, rotation=rotation)
        + AffineTransform(translation=(size / 2 + shift[0], size / 2 + shift[1]))
    )
    yy, xx = np.mgrid[0:size, 0:size]
    px, py = tform.inverse(np.column_stack([xx.ravel(), yy.ravel()])).T.reshape(2, size, size)
    # the expression warp at the portrait positions the output shows
    field = _displacement(label)
    dx, dy = (intensity * map_coordinates(f, [py, px], order=1, mode="constant", cval=0.0) for f in field)
    face = _sample(base, py + dy, px + dx)
    # the head cut out with a soft elliptical mask, so the background shows around it
    ell = ((px - cx) / (face_size * 0.62)) ** 2 + ((py - cy) / (face_size * 0.78)) ** 2
    a = np.clip((1.15 - ell) / 0.3, 0, 1)[..., None]
    img = face * a + _background(rng, size) * (1 - a)
    img = img * rng.uniform(0.75, 1.25) + rng.uniform(-20, 20)  # brightness / contrast
    img = img * rng.uniform(0.88, 1.12, 3)  # colour cast
    img = img + rng.normal(0, rng.uniform(2, 6), img.shape)
    if rng.random() < 0.5:
        img = img[:, ::-1]
    return np.clip(img, 0, 255).astype(np.uint8)


@cache
def portrait() -> np.ndarray:
    """The window of ``astronaut()`` around the head that all constants above refer to (read-only)."""
    img = skdata.astronaut()[:_CROP_BOTTOM, :_CROP_RIGHT]
    img.setflags(write=False)
    return img


def _render_to(out_dir: Path, label: str, k: int, seed: int, size: int) -> None:
    # One generator per sample, so the result does not depend on the number of workers.
    rng = np.random.default_rng([seed, CLASSES.index(label), k])
    img = render_sample(portrait(), label, rng, size)
    # zlib level 1: the noisy pixels compress little at any level, and level 6 takes 1.5x longer
    write_with(out_dir / label / f"{label}_{k:04d}.png",
               lambda p: Image.fromarray(img).save(p, "PNG", compress_level=1))


def _one_blas_thread() -> None:
    # Each worker is one of ``workers`` processes: BLAS threads of their own would oversubscribe the
    # cores and make the pool slower than one process (the warp estimates call lstsq per triangle).
    # The limit holds for the worker's life: threadpoolctl only restores it on an explicit exit.
    threadpool_limits(1)


def synthesize(out_dir: str | Path, n_per_class: int = 60, seed: int = 0, size: int = 160, workers: int = 1) -> dict:
    """Write ``{class}/{class}_{k:04d}.png`` under ``out_dir``; returns a manifest.

    Nothing else is written there: in the folder layout every other file would be a source row of its
    own (``not_in_a_class_folder``). The download stage saves the manifest beside the results.
    """
    out_dir = Path(out_dir)
    jobs = [(out_dir, label, k, seed, size) for label in CLASSES for k in range(n_per_class)]
    if workers > 1:
        with ProcessPoolExecutor(workers, initializer=_one_blas_thread) as pool:
            list(pool.map(_render_to, *zip(*jobs), chunksize=16))
    else:
        for job in jobs:
            _render_to(*job)
    manifest = {"source": "skimage.data.astronaut() (NASA, public domain)", "seed": seed, "size": size,
                "classes": list(CLASSES), "counts": {c: n_per_class for c in CLASSES}}
    return manifest
