"""Face-region variants on an aligned face with template landmarks."""

from __future__ import annotations

import numpy as np
import pytest
from dataset_helpers import face

from ferbench.face_regions import lower_face, mask_polygon, masked, variant_transform

# The ArcFace 112x112 template points (eyes, nose tip, mouth corners) scaled to 224 px.
POINTS = np.array([[38.29, 51.70], [73.53, 51.50], [56.03, 71.74], [41.55, 92.37], [70.73, 92.20]]) * 2


def test_lower_face_keeps_the_mouth_and_drops_the_eyes():
    img = np.zeros((224, 224, 3), np.uint8)
    img[:, :] = (0, 0, 255)
    img[90:110, :] = (255, 0, 0)  # a band at eye height
    img[175:195, 80:150] = (0, 255, 0)  # the mouth
    out = lower_face(img, POINTS)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert not (out[..., 0] > 200).any()  # eye band gone
    assert (out[..., 1] > 200).mean() > 0.05  # mouth present, enlarged


def test_masked_covers_nose_and_mouth_but_not_the_eyes():
    img = face(0, (224, 224))
    out = masked(img, POINTS)
    assert out.shape == img.shape
    changed = (out != img).any(axis=2)
    nose, mouth = POINTS[2].astype(int), POINTS[3:].mean(axis=0).astype(int)
    assert changed[nose[1] + 3, nose[0]] and changed[mouth[1], mouth[0]]
    for eye in POINTS[:2].astype(int):
        assert not changed[eye[1] - 2 : eye[1] + 3, eye[0] - 2 : eye[0] + 3].any()
    poly = np.array(mask_polygon(POINTS))
    assert poly[:, 1].min() > POINTS[:2, 1].max()  # the mask's top edge lies below the eyes


def test_variant_transform_by_name_falls_back_to_the_configured_template_without_landmarks():
    img = face(1, (112, 112))
    out = variant_transform("masked", zoom=0.9)(img, None)
    assert out.shape == img.shape
    # the fallback places the mask where align.zoom put the face, not at a default zoom
    assert (variant_transform("masked", zoom=0.6)(img, None) != out).any()
    with pytest.raises(KeyError, match="unknown face-region variant"):
        variant_transform("sunglasses", zoom=0.9)
    with pytest.raises(ValueError, match="degenerate"):
        masked(img, np.zeros((5, 2)))
