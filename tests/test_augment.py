import torch

from ferbench.models.base import InputSpec
from ferbench.train.augment import BatchAugment

SPEC = InputSpec(size=32, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def _batch(n=6, size=48):
    return torch.randint(0, 256, (n, size, size, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


def test_eval_resizes_and_normalises():
    out = BatchAugment({}, SPEC).eval(_batch())
    assert out.shape == (6, 3, 32, 32) and out.min() >= -1 and out.max() <= 1


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


def test_randaugment_runs_on_uint8_batches():
    out = BatchAugment({"randaugment": {"num_ops": 2, "magnitude": 9}}, SPEC)(_batch(), torch.Generator().manual_seed(0))
    assert out.shape == (6, 3, 32, 32) and torch.isfinite(out).all()


def test_a_batch_stays_valid_until_two_more_are_made():
    aug = BatchAugment({"hflip": 0.5}, SPEC)
    first = aug(_batch(), torch.Generator().manual_seed(1))
    kept = first.clone()
    aug(_batch(), torch.Generator().manual_seed(2))
    assert torch.equal(first, kept)
