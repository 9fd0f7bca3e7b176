import numpy as np
import pytest
import torch

from ganforge.core.errors import ConfigError, DataError
from ganforge.metrics import manifold
from ganforge.metrics.manifold import density_coverage, knn_radii, precision_recall


def column(values):
    return np.array(values, dtype=np.float64)[:, None]


def test_identical_sets_score_one():
    real = np.random.default_rng(0).normal(size=(300, 8))
    assert precision_recall(real, real.copy()) == {"precision": 1.0, "recall": 1.0}
    assert density_coverage(real, real.copy())["coverage"] == 1.0


def test_far_away_fake_set_scores_zero():
    real = np.random.default_rng(1).normal(size=(200, 4))
    fake = real + 100.0
    assert precision_recall(real, fake) == {"precision": 0.0, "recall": 0.0}
    assert density_coverage(real, fake) == {"density": 0.0, "coverage": 0.0}


def test_fake_set_on_one_of_two_clusters_has_full_precision_and_half_recall():
    rng = np.random.default_rng(2)
    cluster_a, cluster_b = rng.normal(0.0, 1.0, size=(400, 2)), rng.normal(50.0, 1.0, size=(400, 2))
    real = np.concatenate([cluster_a, cluster_b])
    fake = rng.normal(0.0, 1.0, size=(400, 2))  # fresh samples of cluster a only
    pr, dc = precision_recall(real, fake), density_coverage(real, fake)
    assert pr["precision"] >= 0.95
    assert 0.45 <= pr["recall"] <= 0.5
    assert 0.45 <= dc["coverage"] <= 0.5
    assert dc["density"] == pytest.approx(1.0, rel=0.2)  # where the fakes are, they match the real density


def test_tiny_one_dimensional_cases_by_hand():
    real = column([0.0, 1.0, 2.0, 4.0])
    # k=2 radii: 0 -> 2 (to 2.0), 1 -> 1, 2 -> 2 (to 0 and 4), 4 -> 3 (to 1.0).
    np.testing.assert_array_equal(knn_radii(torch.from_numpy(real), 2).numpy(), [2.0, 1.0, 2.0, 3.0])
    # 0.5 lies in the balls of 0, 1 and 2; 3.5 in those of 2 and 4; 10 in none: (3 + 2 + 0) / (2 * 3).
    scores = density_coverage(real, column([0.5, 3.5, 10.0]), k=2)
    assert scores == {"density": pytest.approx(5 / 6), "coverage": 1.0}
    # k=1 radii 1, 1, 1, 2: only 0 and 1 have a fake (0.5) within their radius.
    assert density_coverage(real, column([0.5, 10.0]), k=1) == {"density": 1.0, "coverage": 0.5}
    # Fake radii (k=1) are 9.5 each, so every real point is within one: recall 1; 10 is in no real ball.
    assert precision_recall(real, column([0.5, 10.0]), k=1) == {"precision": 0.5, "recall": 1.0}


def test_duplicates_count_as_neighbours_at_distance_zero():
    real = column([0.0, 0.0, 1.0])
    np.testing.assert_array_equal(knn_radii(torch.from_numpy(real), 1).numpy(), [0.0, 0.0, 1.0])
    assert density_coverage(real, column([0.0]), k=1) == {"density": 3.0, "coverage": 1.0}


def test_blocked_computation_matches_one_block(monkeypatch):
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(97, 5)), rng.normal(0.3, 1.0, size=(83, 5))
    whole = precision_recall(real, fake) | density_coverage(real, fake)
    monkeypatch.setattr(manifold, "_BLOCK_ELEMENTS", 7 * 97)  # blocks of about 7 rows, the last shorter
    assert precision_recall(real, fake) | density_coverage(real, fake) == whole
    assert 0 < whole["precision"] < 1 and 0 < whole["coverage"] < 1


def test_accepts_float32_tensors():
    real = torch.randn(50, 3, generator=torch.Generator().manual_seed(4))
    assert precision_recall(real, real.clone())["recall"] == 1.0


def test_bad_inputs_raise():
    ok = np.zeros((10, 3))
    with pytest.raises(DataError, match="differ in width"):
        precision_recall(ok, np.zeros((10, 2)))
    with pytest.raises(DataError, match="k=3 nearest neighbours need 4"):
        precision_recall(ok, np.zeros((3, 3)))
    with pytest.raises(DataError, match="NaN"):
        density_coverage(np.full((10, 3), np.nan), ok)
    with pytest.raises(ConfigError, match="k must be"):
        density_coverage(ok, ok, k=0)
