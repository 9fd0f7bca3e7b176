import math

import numpy as np
import pytest
import torch

from ganforge.core.errors import ConfigError, DataError
from ganforge.metrics.inception_score import inception_score, log_probs_from_logits


def confident(labels, classes, floor=-np.inf):
    """Log-probabilities of a classifier sure of each label (`floor` elsewhere)."""
    log_probs = np.full((len(labels), classes), floor)
    log_probs[np.arange(len(labels)), labels] = 0.0
    return log_probs


@pytest.mark.parametrize("floor", [-np.inf, -1e4, -200.0])
def test_confident_predictions_spread_evenly_score_the_class_count(floor):
    classes = 10
    labels = np.tile(np.arange(classes), 20)  # every contiguous tenth holds each class twice
    scores = inception_score(confident(labels, classes, floor), splits=10)
    assert all(math.isfinite(v) for v in scores.values())
    assert scores["is_1split"] == pytest.approx(classes, rel=1e-9)
    assert scores["is_mean"] == pytest.approx(classes, rel=1e-9)
    assert scores["is_std"] == pytest.approx(0.0, abs=1e-9)


def test_identical_predictions_score_one():
    row = np.log(np.array([0.7, 0.2, 0.1]))
    scores = inception_score(np.tile(row, (30, 1)), splits=3)
    assert scores["is_1split"] == pytest.approx(1.0) and scores["is_mean"] == pytest.approx(1.0)


def test_two_samples_by_hand():
    p = np.array([[0.9, 0.1], [0.2, 0.8]])
    marginal = p.mean(axis=0)
    kl = (p * np.log(p / marginal)).sum(axis=1)
    assert inception_score(np.log(p), splits=1)["is_1split"] == pytest.approx(math.exp(kl.mean()), rel=1e-12)


def test_splits_are_contiguous_and_give_mean_and_std():
    # First half: confident over 2 classes, balanced (IS 2); second half: all one class (IS 1).
    labels = np.array([0, 1] * 10 + [0] * 20)
    scores = inception_score(confident(labels, 2, -1e4), splits=2)
    assert scores["is_mean"] == pytest.approx(1.5, rel=1e-9)
    assert scores["is_std"] == pytest.approx(0.5, rel=1e-9)
    assert scores["is_1split"] == pytest.approx(math.exp(0.75 * math.log(4 / 3) + 0.25 * math.log(4)))


def test_accepts_torch_log_softmax_and_logits_helper():
    logits = torch.randn(40, 5, generator=torch.Generator().manual_seed(0)) * 3
    from_torch = inception_score(torch.log_softmax(logits, dim=1), splits=4)
    from_helper = inception_score(log_probs_from_logits(logits), splits=4)
    assert from_torch == pytest.approx(from_helper, rel=1e-5)
    assert 1.0 < from_torch["is_1split"] <= 5.0


def test_bad_inputs_raise():
    with pytest.raises(DataError, match="log_softmax"):
        inception_score(np.array([[2.0, 1.0], [0.5, 3.0]]), splits=1)
    with pytest.raises(DataError, match="NaN"):
        inception_score(np.array([[0.0, np.nan]]), splits=1)
    with pytest.raises(DataError, match="cannot be cut into 10 splits"):
        inception_score(np.log(np.full((5, 2), 0.5)), splits=10)
    with pytest.raises(ConfigError, match="splits"):
        inception_score(np.log(np.full((5, 2), 0.5)), splits=0)
