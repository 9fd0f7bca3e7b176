import pytest
import torch

from ganforge.train.ema import EMA


def test_first_update_copies_then_lerps_with_warmup_decay():
    net = torch.nn.Linear(2, 1)
    ema = EMA(net, decay=0.999)
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema.update(net)
    assert torch.equal(ema.module.weight, net.weight)
    with torch.no_grad():
        net.weight.fill_(3.0)
    decay = ema.current_decay()
    assert decay == pytest.approx(2 / 11)  # warm-up: (1 + t) / (10 + t) with t = 1
    ema.update(net)
    assert torch.allclose(ema.module.weight, torch.full_like(net.weight, decay * 1.0 + (1 - decay) * 3.0))


def test_decay_reaches_its_cap():
    ema = EMA(torch.nn.Linear(1, 1), decay=0.99)
    ema.updates = 10_000
    assert ema.current_decay() == 0.99


def test_batch_norm_statistics_are_averaged_and_counters_copied():
    net = torch.nn.BatchNorm1d(3)
    ema = EMA(net, decay=0.5)
    net(torch.randn(8, 3))
    ema.update(net)
    net(torch.randn(8, 3) + 5)
    ema.update(net)
    assert int(ema.module.num_batches_tracked) == 2
    assert not torch.equal(ema.module.running_mean, net.running_mean)


def test_state_round_trip():
    net = torch.nn.Linear(2, 2)
    ema = EMA(net, 0.9)
    ema.update(net)
    ema.update(net)
    other = EMA(torch.nn.Linear(2, 2), 0.9)
    other.load_state_dict(ema.state_dict())
    assert other.updates == 2 and torch.equal(other.module.weight, ema.module.weight)


def test_standing_statistics_are_the_batch_statistics_of_the_nets_own_activations():
    """After recomputation, every batch-norm layer's running mean is the mean of its inputs
    over the fresh batches, and its running variance the mean of their per-batch unbiased
    variances (a cumulative average); dropout stays off and the net ends in eval mode."""
    from ganforge.nets.config import DataShape, ModelConfig, NetConfig
    from ganforge.nets.registry import build_generator
    from ganforge.train.standing import batch_norms, recompute_batch_norm

    g = build_generator(ModelConfig(8, NetConfig("dcgan", 4)), DataShape("images", 3, 16))
    for m in batch_norms(g):  # statistics that belong to other weights
        m.running_mean.fill_(5.0)
        m.running_var.fill_(9.0)
    seen: dict[int, list[torch.Tensor]] = {}
    hooks = [
        m.register_forward_hook(lambda mod, inp, out, i=i: seen.setdefault(i, []).append(inp[0].detach()))
        for i, m in enumerate(batch_norms(g))
    ]
    gen = torch.Generator().manual_seed(0)
    batches = [(torch.randn(16, 8, generator=gen), None) for _ in range(5)]
    assert recompute_batch_norm(g, batches) == 5
    for h in hooks:
        h.remove()
    assert not g.training
    for i, m in enumerate(batch_norms(g)):
        xs = seen[i]
        means = torch.stack([x.mean(dim=(0, 2, 3)) for x in xs]).mean(0)
        variances = torch.stack([x.transpose(0, 1).flatten(1).var(dim=1, unbiased=True) for x in xs]).mean(0)
        assert torch.allclose(m.running_mean, means, atol=1e-5) and torch.allclose(
            m.running_var, variances, rtol=1e-4
        )
        assert m.momentum == 0.1  # restored


def test_a_net_without_batch_norm_is_left_alone():
    from ganforge.train.standing import recompute_batch_norm

    net = torch.nn.Linear(2, 2)
    assert recompute_batch_norm(net, [(torch.randn(3, 2),)]) == 0
