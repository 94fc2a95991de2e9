import hashlib

import numpy as np
import pytest

from ferbench.align import AlignConfig, align_dataset
from ferbench.datasets import get_adapter
from ferbench.datasets.demo import CLASSES, synthesize


def _digest(folder):
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*.png")):
        h.update(f.relative_to(folder).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def test_demo_is_deterministic_from_its_seed(tmp_path, small_demo):
    again = tmp_path / "again"
    synthesize(again, n_per_class=8, seed=3, size=160)
    assert _digest(again) == _digest(small_demo)
    parallel = tmp_path / "parallel"
    synthesize(parallel, n_per_class=8, seed=3, size=160, workers=2)
    assert _digest(parallel) == _digest(small_demo)
    other = tmp_path / "other"
    synthesize(other, n_per_class=8, seed=4, size=160)
    assert _digest(other) != _digest(small_demo)


def test_demo_has_every_class_through_the_folder_adapter(small_demo):
    result = get_adapter("folder").read(small_demo, {})
    assert set(result.classes) == set(CLASSES) and len(CLASSES) >= 5
    assert len(result.records) == 8 * len(CLASSES) and not result.excluded
    img = result.records[0].load()
    assert img.shape == (160, 160, 3) and img.dtype == np.uint8


def test_demo_classes_differ_in_the_face(small_demo):
    """The expression warp must change pixels around the mouth/brows, not only the background."""
    from ferbench.datasets.demo import expression_warp, portrait

    base = portrait()
    neutral = expression_warp(base, "neutral", 1.0).astype(float)
    for label in CLASSES[1:]:
        moved = expression_warp(base, label, 1.0).astype(float)
        face = np.abs(moved - neutral)[80:170, 190:270].mean()
        far = np.abs(moved - neutral)[:40, :100].mean()
        assert face > 2.0 and far == 0.0, label


@pytest.mark.slow
def test_mtcnn_finds_a_face_in_at_least_95_percent_of_the_demo(tmp_path, repo):
    import yaml

    spec = yaml.safe_load((repo / "config" / "config.yaml").read_text())["datasets"]["demo"]["synthesize"]
    synthesize(tmp_path, **spec)
    records = get_adapter("folder").read(tmp_path, {}).records
    assert len(records) >= 300
    aligned = align_dataset(records, tmp_path / "results", "aligned", AlignConfig(size=112), workers=2)
    detected = sum(aligned.column("detected").to_pylist())
    assert detected / len(records) >= 0.95, f"{detected}/{len(records)} faces found"
