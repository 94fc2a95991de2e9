import os
import stat

import matplotlib as mpl
import numpy as np
import pytest
from PIL import Image

from ferbench.figures import save
from ferbench.figures.gradcam import gradcam_figure
from ferbench.figures.save import PAD_INCHES
from ferbench.figures.style import MODEL_PALETTE, RC, model_colors, new_figure, shades, styled


@styled
def _tiny():
    fig = new_figure(2, 2)
    fig.add_subplot().plot([0, 1], [1, 0])
    return fig


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def test_save_writes_png_and_pdf_with_umask_modes(tmp_path, umask_027):
    written = save(_tiny(), tmp_path / "sub" / "fig.png")  # a suffix is replaced, not doubled
    assert written == [tmp_path / "sub" / "fig.png", tmp_path / "sub" / "fig.pdf"]
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert written[1].read_bytes()[:5] == b"%PDF-"
    for p in written:
        assert stat.S_IMODE(p.stat().st_mode) == 0o640  # 0666 & ~027, not mkstemp's 0600
    assert sorted(x.name for x in (tmp_path / "sub").iterdir()) == ["fig.pdf", "fig.png"]  # no temp files


@pytest.mark.parametrize("title", [
    "Grad-CAM: dan on demo, fold 2, test images (up to 3 correct and 3 wrong per class); titles: prediction "
    "and its probability",
    "a title wider than the grid below it, which the saved box must keep whole, with a margin on both sides",
])
def test_save_keeps_the_pad_around_a_grid_of_faces(tmp_path, title):
    # Grad-CAM's grid, whose title is its widest part: a box computed at another resolution than the
    # saved one cut into the first title (3-4 px left of the 7.5 px pad) and left 10 px around the second
    rng = np.random.default_rng(0)
    true = np.repeat(np.arange(5), 3)
    pred = true.copy()
    pred[::4] = (pred[::4] + 1) % 5
    fig = gradcam_figure(rng.integers(0, 255, (15, 48, 48, 3), dtype=np.uint8), rng.random((15, 48, 48)),
                         true, pred, rng.random(15), ["angry", "happy", "neutral", "sad", "surprise"],
                         title=title)
    png = np.asarray(Image.open(save(fig, tmp_path / "g")[0]).convert("L"))
    cols, rows = np.flatnonzero((png < 200).any(axis=0)), np.flatnonzero((png < 200).any(axis=1))
    margins = {"left": cols[0], "right": png.shape[1] - 1 - cols[-1], "top": rows[0]}
    pad = PAD_INCHES * RC["savefig.dpi"]
    assert all(pad - 2 <= m <= pad + 2 for m in margins.values()), (margins, pad)


def test_save_is_deterministic(tmp_path):
    a, b = save(_tiny(), tmp_path / "a"), save(_tiny(), tmp_path / "b")
    for x, y in zip(a, b):
        assert x.read_bytes() == y.read_bytes()


def test_failed_save_leaves_nothing(tmp_path, monkeypatch):
    fig = _tiny()

    def broken(path, **kwargs):
        open(path, "wb").write(b"\x89PNG half")  # a partial file, then the crash
        raise RuntimeError("killed")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(RuntimeError):
        save(fig, tmp_path / "fig")
    assert list(tmp_path.iterdir()) == []


def test_style_does_not_leak_into_matplotlib_defaults():
    before = dict(mpl.rcParams)
    _tiny()
    assert dict(mpl.rcParams) == before


def test_model_colours_follow_the_benchmark_list():
    models = [f"m{i}" for i in range(30)]
    colors = model_colors(models)
    assert len(set(colors.values())) == 30
    assert model_colors(models[:3]) == {m: colors[m] for m in models[:3]}
    assert colors["m0"] == MODEL_PALETTE[0]


def test_shades_go_from_light_to_dark():
    s = shades("#1f77b4", 4)
    brightness = [sum(c) for c in s]
    assert brightness == sorted(brightness, reverse=True) and len(set(brightness)) == 4
    assert shades("#1f77b4", 1) == [mpl.colors.to_rgb("#1f77b4")]
