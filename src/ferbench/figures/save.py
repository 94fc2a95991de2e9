"""Writing a figure: PNG for the HTML report, PDF for papers, each file atomically."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from ..io import atomic_path
from .style import RC

FORMATS = ("png", "pdf")
PAD_INCHES = 0.05
# No creation date in the PDF: the same results give byte-identical figure files.
_METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Producer": None}}


def save(fig: Figure, stem: str | Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` (temp file + rename, mode from the umask), cropped to the
    drawn content; return the paths.

    ``stem`` may be given with a suffix (``.../x.png``): the suffix is replaced for every format.
    """
    stem = Path(stem)
    stem = stem.with_suffix("") if stem.suffix.lstrip(".") in formats else stem
    written = []
    with mpl.rc_context(RC):
        # Lay out and crop once for all formats: the constrained layout and the tight box are most of
        # the cost of a grid of faces, and savefig would compute both again per format. Laid out at
        # the saving resolution, because text extents (so the box) depend on it; the figure keeps that
        # dpi and the frozen layout afterwards.
        fig.set_dpi(mpl.rcParams["savefig.dpi"])
        fig.draw_without_rendering()
        box = fig.get_tightbbox().padded(PAD_INCHES)
        fig.set_layout_engine("none")
        for fmt in formats:
            dest = stem.parent / f"{stem.name}.{fmt}"
            with atomic_path(dest) as tmp:
                fig.savefig(tmp, format=fmt, metadata=_METADATA.get(fmt), bbox_inches=box)
            written.append(dest)
    return written
