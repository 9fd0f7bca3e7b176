"""L1, PSNR and SSIM of translations against hand computations."""

import math

import pytest
import torch

from ganforge.metrics.translation import l1_per_image, pair_scores, psnr_per_image, ssim_per_image


def const(value: int, shape=(1, 1, 16, 16)) -> torch.Tensor:
    return torch.full(shape, value, dtype=torch.uint8)


def test_identical_images_score_perfectly():
    x = torch.randint(0, 256, (3, 3, 20, 20), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    assert l1_per_image(x, x).tolist() == [0.0, 0.0, 0.0]
    assert psnr_per_image(x, x).tolist() == [100.0, 100.0, 100.0]
    assert torch.allclose(ssim_per_image(x, x), torch.ones(3, dtype=torch.float64))


def test_l1_and_psnr_of_a_known_difference():
    a, b = const(0), const(51)  # 0.2 apart in [0, 1]
    assert l1_per_image(a, b).item() == pytest.approx(0.2)
    assert psnr_per_image(a, b).item() == pytest.approx(10 * math.log10(1 / 0.04))


def test_ssim_of_two_flat_images_is_the_luminance_term():
    # flat images have no variance: SSIM = (2ab + C1) / (a² + b² + C1)
    a, b = const(51), const(102)
    x, y, c1 = 0.2, 0.4, 0.01**2
    assert ssim_per_image(a, b).item() == pytest.approx((2 * x * y + c1) / (x * x + y * y + c1))


def test_ssim_falls_with_noise_and_works_below_the_window():
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (1, 1, 32, 32), dtype=torch.uint8, generator=gen)

    def noisy(amount: int) -> torch.Tensor:
        return (
            (x.int() + torch.randint(-amount, amount + 1, x.shape, generator=gen))
            .clamp(0, 255)
            .to(torch.uint8)
        )

    scores = [ssim_per_image(x, noisy(a)).item() for a in (20, 60, 180)]
    assert 1 > scores[0] > scores[1] > scores[2] > 0
    small = x[..., :7, :7]
    assert ssim_per_image(small, small).item() == pytest.approx(1.0)


def test_pair_scores_average_per_image():
    out = pair_scores(torch.cat([const(0), const(51)]), torch.cat([const(0), const(0)]), batch_size=1)
    assert out["l1"] == pytest.approx(0.1) and out["psnr"] == pytest.approx((100 + 10 * math.log10(25)) / 2)
    with pytest.raises(ValueError, match="differ in shape"):
        l1_per_image(const(0), const(0, (1, 3, 16, 16)))
