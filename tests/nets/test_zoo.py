"""The variant zoo's parts against hand-computed cases: the Wasserstein, hinge and
least-squares losses, the gradient penalty of a known linear critic, minibatch
discrimination, historical averaging, virtual batch norm, spectral norm; and each zoo
variant trains a few steps without NaN."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganforge.losses import get_loss
from ganforge.nets.config import DataShape, ModelConfig, NetConfig
from ganforge.nets.improved import MinibatchDiscrimination, VirtualBatchNorm, apply_spectral_norm
from ganforge.nets.registry import build_discriminator, build_generator
from ganforge.regularizers import HistoricalAverage, clip_weights, feature_matching, gradient_penalty


def test_wasserstein_hinge_and_least_squares_values():
    real, fake = torch.tensor([2.0, -0.5]), torch.tensor([0.5, -3.0])
    w = get_loss("wgan")
    assert w.discriminator(real, fake).item() == pytest.approx((0.5 - 3.0) / 2 - (2.0 - 0.5) / 2)
    assert w.generator(fake).item() == pytest.approx(1.25)
    h = get_loss("hinge")
    # relu(1 - 2) = 0, relu(1 + 0.5) = 1.5 -> 0.75; relu(1 + 0.5) = 1.5, relu(1 - 3) = 0 -> 0.75
    assert h.discriminator(real, fake).item() == pytest.approx(0.75 + 0.75)
    assert h.generator(fake).item() == pytest.approx(1.25)
    ls = get_loss("ls")
    d = 0.5 * ((1.0**2 + 1.5**2) / 2) + 0.5 * ((0.5**2 + 3.0**2) / 2)
    assert ls.discriminator(real, fake).item() == pytest.approx(d)
    assert ls.generator(fake).item() == pytest.approx(0.5 * ((0.5**2 + 4.0**2) / 2))
    assert ls.discriminator(real, fake, 0.9).item() == pytest.approx(
        0.5 * ((1.1**2 + 1.4**2) / 2) + 0.5 * ((0.5**2 + 3.0**2) / 2)
    )
    for name in ("wgan", "hinge", "ls"):
        assert not get_loss(name).probabilities


def test_gradient_penalty_of_a_linear_critic():
    # D(x) = w·x has gradient w everywhere: the penalty is (||w|| - 1)² whatever the interpolates.
    w = torch.tensor([3.0, 4.0])

    def critic(x):
        return x.flatten(1) @ w

    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx((5.0 - 1.0) ** 2)
    images = torch.randn(4, 1, 2, 1)  # the norm is over all of a sample's elements
    assert gradient_penalty(critic, images, images * 2).item() == pytest.approx(16.0)


def test_gradient_penalty_reaches_the_critic_weights():
    critic = nn.Linear(3, 1)
    gp = gradient_penalty(lambda x: critic(x).squeeze(1), torch.randn(8, 3), torch.randn(8, 3))
    gp.backward()
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0


def test_weight_clipping():
    net = nn.Linear(4, 4)
    with torch.no_grad():
        net.weight.mul_(100)
    clip_weights(net, 0.01)
    assert net.weight.abs().max() <= 0.01 and net.bias.abs().max() <= 0.01


def test_feature_matching_is_the_squared_distance_of_batch_means():
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # mean (2, 3)
    fake = torch.tensor([[0.0, 0.0], [2.0, 0.0]])  # mean (1, 0)
    assert feature_matching(real, fake).item() == pytest.approx(1.0 + 9.0)


def test_minibatch_discrimination_of_a_tiny_batch_by_hand():
    layer = MinibatchDiscrimination(in_features=2, kernels=1, dims=2)
    with torch.no_grad():
        layer.T.copy_(torch.eye(2))  # M_i = f_i
    f = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    # L1 distances: d01 = 1, d02 = 2, d12 = 3; o_i = sum_j exp(-d_ij), self included (exp 0 = 1)
    expected = torch.tensor(
        [
            [1 + math.exp(-1) + math.exp(-2)],
            [math.exp(-1) + 1 + math.exp(-3)],
            [math.exp(-2) + math.exp(-3) + 1],
        ]
    )
    assert torch.allclose(layer(f), expected)


def test_historical_averaging_after_known_updates():
    net = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(1.0)
    history = HistoricalAverage(net)  # average of {1}
    for value in (2.0, 6.0):
        with torch.no_grad():
            net.weight.fill_(value)
        history.update(net)  # averages 1.5, then 3.0
    assert history.average[0].item() == pytest.approx(3.0)
    with torch.no_grad():
        net.weight.fill_(5.0)
    assert history.penalty(net).item() == pytest.approx((5.0 - 3.0) ** 2)
    restored = HistoricalAverage(net)
    restored.load_state_dict(history.state_dict())
    assert restored.count == 3 and restored.average[0].item() == pytest.approx(3.0)


def test_virtual_batch_norm_output_for_a_known_reference_batch():
    vbn = VirtualBatchNorm(1, reference=2)
    x = torch.tensor([[1.0], [3.0], [5.0]])  # reference rows 1 and 3; one example, 5
    out = vbn(x)
    # reference: mean 2, mean of squares 5, var 1 -> (1 - 2)/1, (3 - 2)/1
    assert out[:2, 0].tolist() == pytest.approx([-1.0, 1.0], abs=1e-4)
    # example: weight 1/3 -> mean = 5/3 + 2·2/3 = 3, mean sq = 25/3 + 5·2/3 = 35/3, var = 35/3 - 9 = 8/3
    assert out[2, 0].item() == pytest.approx((5.0 - 3.0) / math.sqrt(8 / 3), abs=1e-4)


def test_virtual_batch_norm_makes_an_example_independent_of_its_batch():
    shape = DataShape("images", 1, 28)
    g = build_generator(
        ModelConfig(16, NetConfig("mlp", norm="vbn", vbn_reference=8), NetConfig("mlp")), shape
    )
    z = torch.randn(5, 16)
    alone = g(z[:1])
    with_others = g(z)[:1]
    assert torch.allclose(alone, with_others, atol=1e-5)
    assert "z_ref" in g.state_dict()


def test_spectral_norm_bounds_the_largest_singular_value():
    torch.manual_seed(0)
    layer = nn.Linear(64, 32)
    with torch.no_grad():
        layer.weight.mul_(10)
    apply_spectral_norm(layer)
    layer.train()
    for _ in range(30):  # power iterations run in training forwards
        layer(torch.randn(2, 64))
    sigma = torch.linalg.matrix_norm(layer.weight.detach(), ord=2).item()
    assert sigma == pytest.approx(1.0, abs=0.05)


def test_spectral_norm_on_a_whole_discriminator():
    model = ModelConfig(16, NetConfig("dcgan", 8), NetConfig("dcgan", 8, spectral_norm=True, norm="none"))
    d = build_discriminator(model, DataShape("images", 3, 32))
    wrapped = [
        m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and hasattr(m, "parametrizations")
    ]
    assert len(wrapped) == 4  # three convolutions and the head


def test_minibatch_discrimination_changes_the_head_input():
    model = ModelConfig(16, NetConfig("mlp"), NetConfig("mlp", minibatch_kernels=10, minibatch_dims=3))
    d = build_discriminator(model, DataShape("images", 1, 28))
    assert d.head.in_features == 256 + 10 and d(torch.randn(4, 1, 28, 28)).shape == (4,)


def test_gaussian_noise_only_while_training():
    from ganforge.nets.layers import GaussianNoise

    layer = GaussianNoise(0.5)
    x = torch.zeros(20000, 4)
    torch.manual_seed(0)
    noisy = layer(x)
    assert abs(float(noisy.std()) - 0.5) < 0.01 and abs(float(noisy.mean())) < 0.01
    torch.manual_seed(0)
    assert torch.equal(layer(x), noisy)  # the trainer's seeding makes it reproducible
    assert torch.equal(layer.eval()(x), x)


def test_discriminator_noise_option():
    from ganforge.nets.layers import GaussianNoise

    net = NetConfig("mlp", noise=0.3, hidden=(16, 8))
    d = build_discriminator(ModelConfig(4, NetConfig("mlp"), net), DataShape("images", 1, 8))
    assert sum(isinstance(m, GaussianNoise) for m in d.modules()) == 2  # input, first hidden
    x = torch.rand(4, 1, 8, 8)
    d.eval()
    assert torch.equal(d(x), d(x))
    with pytest.raises(ValueError, match="noise"):
        NetConfig("mlp", noise=-0.1)
