"""ferbench.cascade: MTCNN's cascade with batched crops finds what facenet-pytorch's own cascade finds."""

import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F

from ferbench import cascade
from ferbench.align import AlignConfig, FaceAligner
from ferbench.images import load_rgb


def test_integral_image_averages_equal_area_interpolation():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (3, 90, 70, 3), dtype=torch.uint8, generator=g)
    table = cascade.IntegralImage(images)
    nchw = images.permute(0, 3, 1, 2).float()
    # pyramid levels: shrinking by a non-integer ratio, and growing
    for size in [(33, 20), (61, 49), (7, 5), (120, 100)]:
        torch.testing.assert_close(table.resized(*size), F.interpolate(nchw, size=size, mode="area"),
                                   rtol=0, atol=1e-4)
    # boxes: larger and smaller than the output, touching every edge, one per image in any order
    boxes = [(2, 0, 0, 90, 70), (0, 5, 3, 45, 10), (1, 80, 60, 10, 10), (0, 0, 65, 13, 5), (2, 17, 21, 24, 24)]
    image, top, left, h, w = (torch.tensor(c) for c in zip(*boxes))
    for out in (24, 48):
        got = table.crops(image, top, left, h, w, out, out)
        assert got.shape == (len(boxes), 3, out, out) and got.is_contiguous(memory_format=torch.channels_last)
        for k, (i, t, l, bh, bw) in enumerate(boxes):
            want = F.interpolate(nchw[i : i + 1, :, t : t + bh, l : l + bw], size=(out, out), mode="area")
            torch.testing.assert_close(got[k : k + 1], want, rtol=0, atol=1e-4)


def test_channels_last_prelu_is_bit_identical_to_prelu():
    prelu = torch.nn.PReLU(10)
    with torch.no_grad():
        prelu.weight.uniform_(-1, 1)
    fast = cascade.ChannelsLastPReLU(prelu)
    x = torch.randn(3, 10, 17, 13)
    with torch.inference_mode():
        for t in (x.contiguous(memory_format=torch.channels_last), x, torch.randn(5, 10)):
            got = fast(t)
            assert torch.equal(got, prelu(t)) and got.stride() == prelu(t).stride()


def test_nets_tuned_for_the_cpu_give_the_same_outputs():
    from facenet_pytorch import MTCNN

    shipped, tuned = MTCNN(device="cpu"), MTCNN(device="cpu")
    for net in (tuned.pnet, tuned.rnet, tuned.onet):
        cascade.for_cpu(net)
    assert isinstance(tuned.onet.prelu5, cascade.ChannelsLastPReLU)
    g = torch.Generator().manual_seed(1)
    for name, side in (("pnet", 40), ("rnet", 24), ("onet", 48)):
        x = torch.rand(6, 3, side, side, generator=g) * 2 - 1
        with torch.inference_mode():
            want = getattr(shipped, name)(x)
            got = getattr(tuned, name)(x.contiguous(memory_format=torch.channels_last))
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_a_box_outside_its_image_is_dropped_with_its_crop():
    boxes = torch.tensor([[-30.0, 5.0, -10.0, 25.0, 0.9], [10.0, 10.0, 30.0, 30.0, 0.8], [5.0, 70.0, 20.0, 90.0, 0.7]])
    top, left, height, width, ok = cascade._clamped(boxes, 50, 60)
    assert ok.tolist() == [False, True, False]
    assert (top[1], left[1], height[1], width[1]) == (9, 9, 21, 21)  # MTCNN's 1-based, inclusive spans


def _facenet(mtcnn, batch):
    boxes, probs, points = mtcnn.detect(batch, landmarks=True)
    out = []
    for b, p, pts in zip(boxes, probs, points):
        if b is None:
            out.append((np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))))
            continue
        b, p, pts = (np.asarray(a, dtype=np.float64) for a in (b, p, pts))
        order = np.argsort(-p, kind="stable")  # facenet-pytorch puts the largest first: so do equal scores
        out.append((b[order], p[order], pts[order]))
    return out


def _batches(shared_data, small_demo):
    """Equal-sized batches as the align stage makes them: demo faces, and real photos with several faces."""
    aligner = FaceAligner(AlignConfig())
    demo = [aligner._detection_input(load_rgb(f))[0] for f in sorted(small_demo.glob("*/*.png"))[::4]]
    photos = []
    for f in sorted((shared_data / "expw" / "Images").glob("*.jpg"))[:8]:
        img = PIL.Image.open(f).convert("RGB").resize((320, 240), PIL.Image.Resampling.BILINEAR)
        photos.append(np.asarray(img))
    return {"demo": np.stack(demo), "expw": np.stack(photos)}


def test_the_cascade_finds_the_faces_and_landmarks_facenet_pytorch_finds(shared_data, small_demo):
    from facenet_pytorch import MTCNN

    mtcnn = MTCNN(keep_all=True, device="cpu", post_process=False)
    for name, batch in _batches(shared_data, small_demo).items():
        with torch.inference_mode():
            want = _facenet(mtcnn, batch)
            got = cascade.detect(batch, mtcnn.pnet, mtcnn.rnet, mtcnn.onet)
        assert sum(len(b) for b, _, _ in want) >= len(batch), name  # the cases hold faces to find
        for (b, p, pts), (wb, wp, wpts) in zip(got, want):
            assert len(b) == len(wb), name
            np.testing.assert_allclose(b, wb, atol=1e-3)
            np.testing.assert_allclose(p, wp, atol=1e-5)
            np.testing.assert_allclose(pts, wpts, atol=1e-3)


def test_an_image_without_faces_gives_empty_arrays():
    from facenet_pytorch import MTCNN

    m = MTCNN(device="cpu")
    with torch.inference_mode():
        [(boxes, scores, points)] = cascade.detect(np.zeros((1, 64, 64, 3), np.uint8), m.pnet, m.rnet, m.onet)
    assert boxes.shape == (0, 4) and scores.shape == (0,) and points.shape == (0, 5, 2)


def test_of_two_candidates_tied_at_certainty_the_one_with_less_doubt_is_kept():
    """Face probabilities round to 1.0 in float32; the non-face probability still tells them apart, so
    the kept box does not depend on the candidates' order (which the batch's other images change)."""
    boxes = torch.tensor([[10.0, 10.0, 50.0, 50.0], [12.0, 11.0, 52.0, 49.0], [100.0, 100.0, 120.0, 120.0]])
    scores = torch.tensor([1.0, 1.0, 0.9])
    image = torch.tensor([0, 0, 0])
    for doubt, kept in (([3e-9, 1e-9, 0.1], [1, 2]), ([1e-9, 3e-9, 0.1], [0, 2])):
        for order in ([0, 1, 2], [1, 0, 2]):
            o = torch.tensor(order)
            got = cascade._min_nms(boxes[o], scores[o], torch.tensor(doubt)[o], image, 0.7)
            assert o[got].tolist() == kept
    # boxes of different images never suppress each other
    assert cascade._min_nms(boxes[:2], scores[:2], torch.zeros(2), torch.tensor([0, 1]), 0.7).tolist() == [0, 1]
