import json
import struct
import subprocess
import sys
import zlib

import numpy as np
import PIL
import PIL.Image
import pytest

from ferbench.align import NO_FACE, AlignConfig, FaceAligner, crop_box, template, warp_to_template
from ferbench.datasets import SourceRecord
from ferbench.images import ImageRejected, image_size, load_rgb


def test_facenet_pytorch_imports_with_the_installed_numpy_and_pillow():
    """facenet-pytorch 2.6 pins numpy<2 and Pillow<10.3 but is installed --no-deps; it must still work."""
    import facenet_pytorch
    from facenet_pytorch import MTCNN

    assert int(np.__version__.split(".")[0]) >= 2
    assert tuple(int(x) for x in PIL.__version__.split(".")[:2]) >= (10, 3)
    boxes, probs = MTCNN(device="cpu").detect(np.zeros((64, 64, 3), np.uint8))
    assert boxes is None and facenet_pytorch.__file__


def test_similarity_warp_puts_the_landmarks_on_the_template():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (200, 180, 3), dtype=np.uint8)
    dst = template(112, 0.9)
    # landmarks = template rotated by 20 degrees, scaled 1.5 and shifted: the inverse must be recovered
    a = np.deg2rad(20)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * 1.5
    pts = dst @ rot.T + [30, 20]
    out, moved = warp_to_template(img, pts, 112, 0.9)
    assert out.shape == (112, 112, 3)
    np.testing.assert_allclose(moved, dst, atol=1e-6)


def test_crop_box_is_clamped_to_the_image():
    img = np.zeros((50, 40, 3), np.uint8)
    assert crop_box(img, (-1, -5, 45, 60), 0.0).shape == (50, 40, 3)
    assert crop_box(img, (10, 10, 20, 30), 0.5).shape == (40, 20, 3)
    with pytest.raises(ImageRejected, match="outside"):
        crop_box(img, (60, 60, 80, 80), 0.0)


def _record(image_id, loader):
    return SourceRecord(image_id=image_id, label="x", load=loader, source=image_id)


@pytest.mark.parametrize("policy", ["center", "exclude"])
def test_images_without_a_face_follow_the_policy_and_are_recorded(policy):
    noise = np.random.default_rng(0).integers(0, 255, (120, 120, 3), dtype=np.uint8)
    out = FaceAligner(AlignConfig(size=64, no_face=policy)).align_batch([_record("n", lambda: noise)])[0]
    if policy == "center":
        assert out.kept and out.method == "center_fallback" and out.image.shape == (64, 64, 3)
    else:
        assert not out.kept and out.reason == NO_FACE


def test_unreadable_images_become_recorded_exclusions(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    out = FaceAligner(AlignConfig(size=64)).align_batch(
        [_record("bad", lambda: load_rgb(bad)), _record("gone", lambda: load_rgb(tmp_path / "gone.png"))]
    )
    assert [o.reason for o in out] == ["unreadable_image", "missing_file"]


def _sample(folder, pattern, n):
    files = sorted(folder.glob(pattern))
    return files[:: max(1, len(files) // n)][:n]


@pytest.mark.parametrize(("sub", "pattern"), [("ckplus48/CK+48", "*/*.png"), ("sfew2/Train", "*/*.png")])
def test_mtcnn_finds_faces_in_real_images(shared_data, sub, pattern):
    files = _sample(shared_data / sub, pattern, 24)
    records = [_record(f.name, lambda f=f: load_rgb(f)) for f in files]
    aligned = FaceAligner(AlignConfig(size=112, no_face="exclude")).align_batch(records)
    found = [a for a in aligned if a.method == "mtcnn"]
    # SFEW holds movie frames with profile and dark faces: MTCNN finds about 94% of them
    assert len(found) >= 0.85 * len(files), [a.reason for a in aligned]
    for a in found:
        lm = np.asarray(a.aligned_landmarks).reshape(5, 2)
        # eyes above the mouth, left eye left of the right eye, all inside the crop
        assert lm[0, 0] < lm[1, 0] and lm[:2, 1].max() < lm[3:, 1].min() and (lm > 0).all() and (lm < 112).all()


def test_dataset_landmarks_replace_detection():
    img = np.random.default_rng(1).integers(0, 255, (150, 150, 3), dtype=np.uint8)
    pts = template(112, 0.9) + 10
    rec = SourceRecord("lm", "x", lambda: img, "lm.jpg", landmarks=tuple(map(tuple, pts)))
    out = FaceAligner(AlignConfig(size=112, zoom=0.9)).align_batch([rec])[0]
    assert out.method == "dataset_landmarks" and out.kept
    np.testing.assert_allclose(np.reshape(out.aligned_landmarks, (5, 2)), template(112, 0.9), atol=1e-6)
    off = FaceAligner(AlignConfig(size=112, dataset_landmarks=False, no_face="exclude")).align_batch([rec])[0]
    assert off.method != "dataset_landmarks"


# --- huge images and decompression bombs -----------------------------------------------------------


def _astronaut(side: int) -> np.ndarray:
    from skimage import data

    img = data.astronaut()
    return np.asarray(PIL.Image.fromarray(img).resize((side, side), PIL.Image.Resampling.BILINEAR))


def test_large_images_are_detected_on_a_reduced_copy_and_warped_from_the_original():
    img = _astronaut(512)
    rec = SourceRecord("a", "x", lambda: img, "a.png")
    full = FaceAligner(AlignConfig(size=112)).align_batch([rec])[0]
    reduced = FaceAligner(AlignConfig(size=112, max_detect_side=200)).align_batch([rec])[0]
    assert full.method == reduced.method == "mtcnn"
    # landmarks found at 200 px come back in the 512 px original's coordinates
    np.testing.assert_allclose(reduced.landmarks, full.landmarks, atol=512 / 200 * 2)
    # and the face is warped from the original: the same crop as when detected at full size
    np.testing.assert_allclose(reduced.aligned_landmarks, full.aligned_landmarks, atol=2)
    assert np.abs(reduced.image.astype(int) - full.image.astype(int)).mean() < 12


_CHILD = """
import json, resource, sys
from ferbench.align import AlignConfig, FaceAligner
from ferbench.datasets import SourceRecord
from ferbench.images import load_rgb
from skimage import data

aligner = FaceAligner(AlignConfig(size=112))
small = aligner.detect([data.astronaut()])[0]  # also warms MTCNN up, so the bound measures the photo
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = aligner.align_batch([SourceRecord("big", "x", lambda: load_rgb(sys.argv[1]), "big.jpg")])[0]
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_mb": (after - before) / 1024, "method": out.method, "landmarks": out.landmarks,
                  "small": small[2].ravel().tolist(), "shape": list(out.image.shape)}))
"""


@pytest.mark.slow
def test_a_6000_pixel_photo_is_aligned_without_gigabytes(tmp_path):
    path = tmp_path / "big.jpg"
    PIL.Image.fromarray(_astronaut(6000)).save(path, quality=90)
    run = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    # before: MTCNN's pyramid over the padded 6000x6000 photo (+4.6 GB); now the photo and a 1024 px copy
    assert got["peak_mb"] < 800, got["peak_mb"]
    assert got["method"] == "mtcnn" and got["shape"] == [112, 112, 3]
    np.testing.assert_allclose(got["landmarks"], np.array(got["small"]) * 6000 / 512, atol=40)


def _png_header_only(path, width: int, height: int):
    """A PNG that announces ``width x height`` grey pixels but carries four rows: a bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * (width + 1) * 4)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


@pytest.mark.parametrize("side", [(9000, 8000), (30000, 30000)])  # over our cap; over Pillow's own limit too
def test_decompression_bombs_are_excluded_before_decoding(tmp_path, side):
    bomb = _png_header_only(tmp_path / "bomb.png", *side)
    with pytest.raises(ImageRejected) as err:
        load_rgb(bomb)
    assert err.value.reason == "too_many_pixels"  # not truncated_image: the pixels were never decoded
    with pytest.raises(ImageRejected, match="too_many_pixels"):
        image_size(bomb)
    out = FaceAligner(AlignConfig(size=64)).align_batch([_record("bomb", lambda: load_rgb(bomb))])[0]
    assert (out.kept, out.reason) == (False, "too_many_pixels")


def test_the_process_pool_gives_the_rows_of_one_process_in_record_order(tmp_path, small_demo):
    """align_dataset(workers=2): forked workers align and write whole batches; same table, same files."""
    from ferbench.align import align_dataset
    from ferbench.datasets import get_adapter

    records = get_adapter("folder").read(small_demo, {}).records[:14]
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    records.insert(5, _record("bad", lambda: load_rgb(bad)))
    cfg = AlignConfig(size=64, batch_size=4)  # 4 batches over 2 workers
    one = align_dataset(records, tmp_path / "one", "images", cfg)
    pool = align_dataset(records, tmp_path / "pool", "images", cfg, workers=2)
    assert pool.column("image_id").to_pylist() == [r.image_id for r in records]
    assert pool.drop_columns(["landmarks", "aligned_landmarks", "box", "score"]).equals(
        one.drop_columns(["landmarks", "aligned_landmarks", "box", "score"]))
    for col in ("landmarks", "box"):
        for a, b in zip(one.column(col).to_pylist(), pool.column(col).to_pylist()):
            assert (a is None) == (b is None) and (a is None or np.abs(np.subtract(a, b)).max() < 1.0)
    assert pool.column("reason").to_pylist()[5] == "unreadable_image"
    for rel in pool.column("path").to_pylist():  # torch's thread count moves landmarks by float rounding
        if rel:
            diff = load_rgb(tmp_path / "pool" / rel).astype(float) - load_rgb(tmp_path / "one" / rel)
            assert np.abs(diff).mean() < 0.5, rel
