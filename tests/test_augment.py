import math

import numpy as np
import pytest
import torch

from ferbench.models.base import InputSpec
from torchvision.transforms import v2

from ferbench.train import augment
from ferbench.train.augment import BatchAugment, channels_last_pays, geometry_cpu, geometry_torch
from ferbench.train.cache import read_batch

SPEC = InputSpec(size=32, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def _batch(n=6, size=48):
    return torch.randint(0, 256, (n, size, size, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


def test_eval_resizes_and_normalises():
    out = BatchAugment({}, SPEC).eval(_batch())
    assert out.shape == (6, 3, 32, 32) and out.min() >= -1 and out.max() <= 1


def test_batches_are_channels_last_only_where_convolutions_run_faster_so(monkeypatch):
    assert channels_last_pays("cuda", 48) and not channels_last_pays("cpu", 48) and channels_last_pays("cpu", 224)
    batch = _batch()
    planar = BatchAugment({}, SPEC).eval(batch).clone()
    assert planar.is_contiguous()
    monkeypatch.setattr(augment, "CPU_CHANNELS_LAST_MIN_SIDE", 32)
    last = BatchAugment({}, SPEC).eval(batch)
    assert last.is_contiguous(memory_format=torch.channels_last) and not last.is_contiguous()
    assert torch.equal(planar, last)  # the same values in either layout


def test_same_generator_same_augmentation():
    spec = {"hflip": 0.5, "affine": {"p": 1, "degrees": 20, "translate": 0.1, "scale": [0.9, 1.1]},
            "color": {"p": 1, "brightness": 0.4, "contrast": 0.4, "saturation": 0.4},
            "noise": {"p": 0.5, "std": 0.05}, "erasing": {"p": 1, "scale": [0.02, 0.25]}}
    aug = BatchAugment(spec, SPEC)
    a = aug(_batch(), torch.Generator().manual_seed(5)).clone()  # outputs are reused buffers
    b = aug(_batch(), torch.Generator().manual_seed(5)).clone()
    c = aug(_batch(), torch.Generator().manual_seed(6)).clone()
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_flip_with_p1_mirrors_the_image():
    batch = _batch(size=32)
    flipped = BatchAugment({"hflip": 1.0}, SPEC)(batch, torch.Generator().manual_seed(0))
    plain = BatchAugment({}, SPEC).eval(batch)
    torch.testing.assert_close(flipped, plain.flip(-1), atol=1e-5, rtol=0)


def test_erasing_zeroes_a_rectangle_of_the_requested_area():
    spec = {"erasing": {"p": 1.0, "scale": [0.1, 0.1]}}
    out = BatchAugment(spec, SPEC)(torch.full((4, 32, 32, 3), 200, dtype=torch.uint8), torch.Generator().manual_seed(0))
    # erased pixels hold the normalisation mean, i.e. ~0 after normalising
    zero_frac = (out.abs() < 0.01).all(1).float().mean(dim=(1, 2))
    assert ((zero_frac > 0.05) & (zero_frac < 0.15)).all()


def test_bgr_models_get_reversed_channels():
    batch = torch.zeros((1, 8, 8, 3), dtype=torch.uint8)
    batch[..., 0] = 255  # pure red
    bgr = BatchAugment({}, InputSpec(size=8, mean=(0, 0, 0), std=(1, 1, 1), bgr=True)).eval(batch)
    assert bgr[0, 2].min() == 1 and bgr[0, 0].max() == 0


def test_randaugment_draws_one_torchvision_op_set_per_chunk_of_four_from_the_generator():
    # eight copies of one image: any difference between outputs comes from the ops drawn
    batch = _batch(n=1, size=32).expand(8, 32, 32, 3).contiguous()
    kept = batch.clone()
    aug = BatchAugment({"randaugment": {"num_ops": 2, "magnitude": 9}}, SPEC)
    out = aug.augment(batch, torch.Generator().manual_seed(0))
    assert out.dtype == torch.uint8 and torch.equal(batch, kept)  # uint8 until normalise; input untouched
    first, second = out[:4], out[4:]
    assert all(torch.equal(o, first[0]) for o in first) and all(torch.equal(o, second[0]) for o in second)
    assert not torch.equal(first[0], second[0])  # each chunk draws its own ops
    assert not torch.equal(first[0], batch[0]) or not torch.equal(second[0], batch[0])
    # the ops are torchvision's RandAugment(2, 9), its global generator seeded from ours
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=g)))
    ref = v2.RandAugment(num_ops=2, magnitude=9)
    expected = torch.cat([ref(c) for c in kept.permute(0, 3, 1, 2).split(4)]).permute(0, 2, 3, 1)
    assert torch.equal(out, expected)
    assert not torch.equal(out, aug.augment(batch, torch.Generator().manual_seed(1)))


def test_a_batch_stays_valid_until_two_more_are_made():
    aug = BatchAugment({"hflip": 0.5}, SPEC)
    first = aug(_batch(), torch.Generator().manual_seed(1))
    kept = first.clone()
    aug(_batch(), torch.Generator().manual_seed(2))
    assert torch.equal(first, kept)


def test_normalisation_is_exact_per_channel():
    spec = InputSpec(size=48, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    batch = _batch()
    out = BatchAugment({}, spec).eval(batch)
    ref = (batch.permute(0, 3, 1, 2).float() / 255 - torch.tensor(spec.mean).view(1, 3, 1, 1)) / torch.tensor(
        spec.std
    ).view(1, 3, 1, 1)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)


def _theta(angle=0.0, scale=1.0, tx=0.0, ty=0.0, k=1):
    c, s = math.cos(angle) / scale, math.sin(angle) / scale
    return torch.tensor([[[c, -s, tx], [s, c, ty]]] * k, dtype=torch.float32)


@pytest.mark.parametrize("geometry", [geometry_cpu, geometry_torch])
def test_warp_shift_moves_pixels_and_fills_black(geometry):
    x = _batch(n=2, size=32)
    out = x.clone()
    geometry(out, [], [1], _theta(tx=2 * 4 / 32), "nearest")  # output pixel p reads input p + 4 px
    assert torch.equal(out[0], x[0])  # samples not drawn are untouched
    assert torch.equal(out[1, :, :-4], x[1, :, 4:])
    assert (out[1, :, -4:] == 0).all()


@pytest.mark.parametrize("geometry", [geometry_cpu, geometry_torch])
def test_flips_mirror_only_the_drawn_samples_before_the_warp(geometry):
    x = _batch(n=3, size=16)
    out = x.clone()
    geometry(out, [0, 2], [2], _theta(tx=2 * 2 / 16), "nearest")
    assert torch.equal(out[0], x[0].flip(1)) and torch.equal(out[1], x[1])
    assert torch.equal(out[2, :, :-2], x[2].flip(1)[:, 2:])  # flipped, then shifted


@pytest.mark.parametrize("mode, equal_at_least", [("nearest", 0.999), ("bilinear", 0.95)])
def test_opencv_and_grid_sample_geometry_agree(mode, equal_at_least):
    # The CPU (OpenCV) and CUDA (torch kernels) backends must draw the same augmentation; bilinear
    # differs at the image border, where OpenCV blends with the fill colour differently.
    g = torch.Generator().manual_seed(3)
    smooth = torch.nn.functional.avg_pool2d(_batch(n=4, size=40).permute(0, 3, 1, 2).float(), 5, 1, 2)
    x = smooth.round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()
    theta = torch.cat([_theta(float(a), float(s), float(tx), float(ty)) for a, s, tx, ty in
                       zip(torch.rand(4, generator=g) - 0.5, 0.9 + 0.2 * torch.rand(4, generator=g),
                           0.2 * torch.rand(4, generator=g) - 0.1, 0.2 * torch.rand(4, generator=g) - 0.1)])
    a, b = x.clone(), x.clone()
    geometry_cpu(a, [1, 2], [0, 1, 2, 3], theta, mode)
    geometry_torch(b, [1, 2], [0, 1, 2, 3], theta, mode)
    close = ((a.int() - b.int()).abs() <= (0 if mode == "nearest" else 2)).float().mean()
    assert close >= equal_at_least
    assert not torch.equal(a, x)


def test_a_strided_batch_is_augmented_like_its_contiguous_copy():
    aug = BatchAugment({"hflip": 0.5, "affine": {"p": 0.5, "degrees": 20, "translate": 0.1}}, SPEC)
    strided = _batch(n=8, size=32).transpose(1, 2)  # a view: rows are columns
    assert not strided.is_contiguous()
    a = aug.augment(strided, torch.Generator().manual_seed(2))
    b = aug.augment(strided.contiguous(), torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, strided)
    with pytest.raises(ValueError, match="contiguous"):
        geometry_cpu(strided.clone(), [0], [], torch.zeros(0, 2, 3), "nearest")


@pytest.mark.parametrize("side", [64, 96])  # RandAugment's output as is, and resized
def test_randaugment_output_goes_on_to_flips_and_warps(side):
    # from 64 px torchvision's ops hand back channels-last NCHW, i.e. a strided NHWC batch
    spec = {"hflip": 1.0, "affine": {"p": 1.0, "degrees": 10}, "randaugment": {"num_ops": 3, "magnitude": 5}}
    aug = BatchAugment(spec, InputSpec(size=64))
    out = aug(_batch(n=8, size=side), torch.Generator().manual_seed(1))
    assert out.shape == (8, 3, 64, 64) and torch.isfinite(out).all()


def test_augment_keeps_the_callers_batch_unless_told_it_may_overwrite_it():
    aug = BatchAugment({"hflip": 1.0, "erasing": {"p": 1.0}}, SPEC)
    batch = _batch(size=32)
    kept = batch.clone()
    out = aug.augment(batch, torch.Generator().manual_seed(0))
    assert torch.equal(batch, kept) and out.data_ptr() != batch.data_ptr()
    again = aug.augment(batch, torch.Generator().manual_seed(0), inplace=True)
    assert again.data_ptr() == batch.data_ptr() and torch.equal(again, out)


def test_read_batch_reads_sorted_rows_of_the_cache():
    images = np.arange(5 * 2 * 2 * 3, dtype=np.uint8).reshape(5, 2, 2, 3)
    assert torch.equal(read_batch(images, np.array([1, 3])), torch.from_numpy(images[[1, 3]]))
    with pytest.raises(ValueError, match="increasing order"):
        read_batch(images, np.array([3, 1]))
