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
