"""The image grid: the same layout as torchvision's make_grid, without importing torchvision."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.utils import make_grid

from ganforge.viz import image_grid


@pytest.mark.parametrize(("shape", "nrow"), [((10, 1, 7, 5), 4), ((64, 3, 8, 8), 8), ((3, 3, 4, 4), 8)])
def test_image_grid_matches_torchvision(shape: tuple[int, int, int, int], nrow: int) -> None:
    images = torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    expected = make_grid(images, nrow=nrow, padding=2, pad_value=255).permute(1, 2, 0).numpy()
    expected = expected[..., 0] if shape[1] == 1 else expected
    assert np.array_equal(np.asarray(image_grid(images, nrow)), expected)


def test_image_grid_rejects_a_batch_that_is_not_images() -> None:
    with pytest.raises(ValueError, match="N×C×H×W"):
        image_grid(torch.zeros(4, 2, 8, 8, dtype=torch.uint8), 2)
