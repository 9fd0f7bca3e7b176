import math

import pytest
import torch

from ganforge.core.errors import ConfigError
from ganforge.losses import get_loss, top_k


def log_sigmoid(x):
    return -math.log1p(math.exp(-x))


def test_non_saturating_values_at_known_logits():
    loss = get_loss("ns")
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    d = -(log_sigmoid(2.0) + log_sigmoid(-1.0)) / 2 - (log_sigmoid(-0.5) + log_sigmoid(3.0)) / 2
    assert loss.discriminator(real, fake).item() == pytest.approx(d, rel=1e-6)
    g = -(log_sigmoid(0.5) + log_sigmoid(-3.0)) / 2
    assert loss.generator(fake).item() == pytest.approx(g, rel=1e-6)


def test_minimax_generator_minimises_log_one_minus_d():
    fake = torch.tensor([0.5, -3.0])
    expected = (log_sigmoid(-0.5) + log_sigmoid(3.0)) / 2  # mean log(1 - D(G(z)))
    assert get_loss("minimax").generator(fake).item() == pytest.approx(expected, rel=1e-6)


def test_one_sided_label_smoothing_targets_alpha_for_real_only():
    loss = get_loss("ns")
    real, fake = torch.tensor([1.5]), torch.tensor([-0.7])
    alpha = 0.9
    bce_real = -(alpha * log_sigmoid(1.5) + (1 - alpha) * log_sigmoid(-1.5))
    assert loss.discriminator(real, fake, alpha).item() == pytest.approx(
        bce_real - log_sigmoid(0.7), rel=1e-6
    )


def test_losses_are_stable_at_extreme_logits():
    big = torch.tensor([200.0, -200.0])
    for name in ("ns", "minimax"):
        loss = get_loss(name)
        assert torch.isfinite(loss.discriminator(big, -big)) and torch.isfinite(loss.generator(big))


def test_unknown_loss_lists_the_known_ones():
    with pytest.raises(
        ConfigError, match=r"unknown loss 'wasserstein'; known losses: hinge, ls, minimax, ns, rpgan, wgan"
    ):
        get_loss("wasserstein")


def test_top_k_keeps_the_most_real_scores_and_at_least_one():
    fake = torch.tensor([[0.1], [2.0], [-1.0], [0.7]])
    assert torch.equal(top_k(fake, 1.0), fake)
    assert torch.equal(top_k(fake, 0.5), torch.tensor([2.0, 0.7]))
    assert torch.equal(top_k(fake, 0.01), torch.tensor([2.0]))
    loss = get_loss("ns")
    assert loss.generator(top_k(fake, 0.5)).item() == pytest.approx(
        -(log_sigmoid(2.0) + log_sigmoid(0.7)) / 2, rel=1e-6
    )


def test_relativistic_pairing_by_hand():
    loss = get_loss("rpgan")
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, 1.0])
    softplus = lambda v: torch.log1p(torch.exp(v))  # noqa: E731
    assert torch.allclose(loss.discriminator(real, fake), softplus(fake - real).mean())
    assert torch.allclose(loss.generator(fake, real), softplus(real - fake).mean())
    assert loss.pairs and not loss.probabilities


def test_the_paired_losses_are_those_the_variants_know():
    from ganforge.losses import LOSSES
    from ganforge.variants.system_options import PAIRED_LOSSES

    assert {name for name, loss in LOSSES.items() if loss.pairs} == PAIRED_LOSSES
