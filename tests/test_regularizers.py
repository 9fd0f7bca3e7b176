"""R1/R2 (`gradient_square`) checked by hand on nets whose input gradient is known, and against
per-sample autograd on a small conv net."""

import torch
from torch import nn

from ganforge.regularizers import gradient_square


def test_a_linear_critic_has_the_squared_norm_of_its_weights():
    torch.manual_seed(0)
    w = torch.randn(3 * 4 * 4)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    logits = x.flatten(1) @ w + 0.3  # ∇ₓ D = w for every sample
    assert torch.allclose(gradient_square(logits, x), w.pow(2).sum())


def test_a_quadratic_critic_has_four_times_the_mean_squared_norm_of_its_inputs():
    x = torch.randn(6, 2, requires_grad=True)
    logits = x.pow(2).sum(1)  # ∇ₓ D = 2x
    assert torch.allclose(gradient_square(logits, x), 4 * x.detach().pow(2).sum(1).mean())


def test_a_conv_critic_matches_per_sample_autograd_and_its_penalty_trains_it():
    torch.manual_seed(1)
    d = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(4, 1, 4))
    x = torch.randn(4, 3, 4, 4, requires_grad=True)
    penalty = gradient_square(d(x), x)
    each = []
    for i in range(4):
        xi = x.detach()[i : i + 1].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(d(xi).sum(), xi)
        each.append(g.pow(2).sum())
    assert torch.allclose(penalty, torch.stack(each).mean(), rtol=1e-5)
    penalty.backward()  # the graph is kept: the penalty has gradients for D's weights
    assert d[0].weight.grad is not None and d[0].weight.grad.abs().sum() > 0
