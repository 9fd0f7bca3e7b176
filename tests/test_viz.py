"""The image grid: the same layout as torchvision's make_grid, without importing torchvision;
the translation figure keeps its whole title."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.utils import make_grid

from ganforge.viz import image_grid, save_translation_rows


@pytest.mark.parametrize(("shape", "nrow"), [((10, 1, 7, 5), 4), ((64, 3, 8, 8), 8), ((3, 3, 4, 4), 8)])
def test_image_grid_matches_torchvision(shape: tuple[int, int, int, int], nrow: int) -> None:
    images = torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    expected = make_grid(images, nrow=nrow, padding=2, pad_value=255).permute(1, 2, 0).numpy()
    expected = expected[..., 0] if shape[1] == 1 else expected
    assert np.array_equal(np.asarray(image_grid(images, nrow)), expected)


def test_image_grid_rejects_a_batch_that_is_not_images() -> None:
    with pytest.raises(ValueError, match="N×C×H×W"):
        image_grid(torch.zeros(4, 2, 8, 8, dtype=torch.uint8), 2)


def test_a_one_direction_translation_figure_keeps_its_whole_title(tmp_path: Path) -> None:
    """One narrow panel (three 32-px columns) under a long title: the title's ink stays clear of
    the image's left and right edges (it was clipped to "ges2emoji64 seed 0 (EMA generat")."""
    images = torch.zeros(8, 3, 32, 32, dtype=torch.uint8)
    columns = {"input (a)": images, "output (b)": images, "target (b)": images}
    title = "pix2pix_edges2emoji64 · edges2emoji64 seed 0 (EMA generator)"
    path = save_translation_rows([("a2b", columns)], tmp_path / "rows.png", title)
    band = np.asarray(Image.open(path).convert("L"))[:30]  # the title's band, above the panel
    ink = np.flatnonzero((band < 128).any(axis=0))
    assert ink.size, "no title drawn"
    assert ink[0] > 2 and ink[-1] < band.shape[1] - 3
