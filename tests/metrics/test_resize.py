"""The resize filters a score can be defined with: `clean` matches Pillow's antialiased bicubic,
`legacy` is pytorch-fid's bilinear."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ganforge.core.errors import ConfigError
from ganforge.metrics.resize import resize_images
from ganforge.metrics.suite import EvalConfig


def _pillow_bicubic(images: np.ndarray, size: int) -> np.ndarray:
    """Each channel resized by Pillow in float mode ("F"), as clean-fid does."""
    return np.stack(
        [
            np.stack(
                [
                    np.asarray(Image.fromarray(c, mode="F").resize((size, size), Image.Resampling.BICUBIC))
                    for c in img
                ]
            )
            for img in images
        ]
    )


@pytest.mark.parametrize(("source", "size"), [(28, 299), (64, 299), (64, 28), (96, 32)])
def test_clean_resize_matches_pillow_within_1e_3_per_pixel(source, size):
    images = np.random.default_rng(source).random((2, 3, source, source)).astype(np.float32)
    ours = resize_images(torch.from_numpy(images), size, "clean").numpy()
    assert ours.shape == (2, 3, size, size)
    assert np.abs(ours - _pillow_bicubic(images, size)).max() < 1e-3


def test_legacy_resize_is_pytorch_fids_bilinear_and_differs_from_clean_when_shrinking():
    images = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    legacy = resize_images(images, 28, "legacy")
    torch.testing.assert_close(
        legacy, F.interpolate(images, size=(28, 28), mode="bilinear", align_corners=False)
    )
    assert (legacy - resize_images(images, 28, "clean")).abs().max() > 0.05  # aliasing: not a detail
    assert resize_images(images, 64, "clean") is images  # already the size: untouched


def test_an_unknown_filter_is_one_line():
    with pytest.raises(ConfigError, match="unknown resize filter 'lanczos'; known: clean, legacy"):
        resize_images(torch.zeros(1, 1, 4, 4), 8, "lanczos")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown resize filter"):
        EvalConfig(inception_resize="bilinear")  # type: ignore[arg-type]
