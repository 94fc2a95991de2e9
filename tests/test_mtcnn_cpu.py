"""ferbench.mtcnn_cpu: MTCNN's nets tuned for a CPU detect what facenet-pytorch's nets as shipped detect."""

import numpy as np
import PIL.Image
import torch

from ferbench.align import AlignConfig, FaceAligner
from ferbench.images import load_rgb
from ferbench.mtcnn_cpu import RowPReLU, tune_for_cpu


def test_row_prelu_is_bit_identical_to_prelu():
    x = torch.randn(3, 10, 17, 13)
    for prelu in (torch.nn.PReLU(10), torch.nn.PReLU()):  # a slope per channel, and one for all
        with torch.no_grad():
            prelu.weight.uniform_(-1, 1)
        fast = RowPReLU(prelu)
        with torch.inference_mode():
            for t in (x.contiguous(memory_format=torch.channels_last), x, torch.randn(5, 10)):
                got, want = fast(t), prelu(t)
                assert torch.equal(got, want) and got.stride() == want.stride()


def test_tuned_nets_give_the_same_outputs():
    from facenet_pytorch import MTCNN

    shipped, tuned = MTCNN(device="cpu"), MTCNN(device="cpu")
    tune_for_cpu(tuned)
    assert isinstance(tuned.onet.prelu5, RowPReLU) and isinstance(tuned.pnet.prelu1, RowPReLU)
    g = torch.Generator().manual_seed(1)
    for name, side in (("pnet", 40), ("rnet", 24), ("onet", 48)):
        x = torch.rand(6, 3, side, side, generator=g) * 2 - 1
        with torch.inference_mode():
            want = getattr(shipped, name)(x)
            got = getattr(tuned, name)(x.contiguous(memory_format=torch.channels_last))
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_tuned_nets_find_the_same_faces_and_landmarks(shared_data, small_demo, monkeypatch):
    images = [load_rgb(f) for f in sorted(small_demo.glob("*/*.png"))[::4]]
    for f in sorted((shared_data / "expw" / "Images").glob("*.jpg"))[6:13]:  # 3 with several faces
        img = PIL.Image.open(f).convert("RGB").resize((320, 240), PIL.Image.Resampling.BILINEAR)
        images.append(np.asarray(img))
    tuned = FaceAligner(AlignConfig()).detect_all(images)
    monkeypatch.setattr(FaceAligner, "_tune_nets", lambda self: None)
    shipped = FaceAligner(AlignConfig()).detect_all(images)
    assert sum(len(faces) > 1 for faces in shipped) >= 3 and all(shipped[: len(images) - 7])
    for got, want in zip(tuned, shipped):
        assert len(got) == len(want)
        for (box, score, lm), (wbox, wscore, wlm) in zip(got, want):
            np.testing.assert_allclose(box, wbox, atol=1e-3)
            np.testing.assert_allclose(lm, wlm, atol=1e-3)
            assert abs(score - wscore) < 1e-5
