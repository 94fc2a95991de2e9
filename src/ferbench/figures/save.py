"""Writing a figure: PNG for the HTML report, PDF for papers, each file atomically."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from ..io import atomic_path
from .style import RC

FORMATS = ("png", "pdf")
# No creation date in the PDF: the same results give byte-identical figure files.
_METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Producer": None}}


def save(fig: Figure, stem: str | Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` (temp file + rename, mode from the umask); return the paths.

    ``stem`` may be given with a suffix (``.../x.png``): the suffix is replaced for every format.
    """
    stem = Path(stem)
    stem = stem.with_suffix("") if stem.suffix.lstrip(".") in formats else stem
    written = []
    with mpl.rc_context(RC):
        for fmt in formats:
            dest = stem.parent / f"{stem.name}.{fmt}"
            with atomic_path(dest) as tmp:
                fig.savefig(
                    tmp, format=fmt, metadata=_METADATA.get(fmt), bbox_inches="tight", pad_inches=0.05
                )
            written.append(dest)
    return written
