"""`train.compile`: the nets run through torch.compile while checkpoints and EMA copies keep
the plain nets' keys; refused with the gradient penalty (no double backward)."""

import pytest
import torch

from ganforge.core.batches import BatchSampler
from ganforge.core.seeds import RunRandom
from ganforge.losses import get_loss
from ganforge.nets.config import DataShape, ModelConfig, NetConfig
from ganforge.nets.registry import build_discriminator, build_generator
from ganforge.runner import net_wrapper
from ganforge.systems.gan import GanSystem
from ganforge.train.config import TrainConfig
from ganforge.train.loop import Trainer

CPU = torch.device("cpu")


def test_compiled_nets_train_and_checkpoint_under_their_plain_names(tmp_path):
    shape, toy = DataShape("points", dim=2), NetConfig("toy", hidden=(16,))
    cfg = TrainConfig(steps=3, batch_size=16, log_every=1, amp="off", compile=True)
    random = RunRandom(0, CPU)
    g, d = (
        build_generator(ModelConfig(4, toy, toy), shape),
        build_discriminator(ModelConfig(4, toy, toy), shape),
    )
    before = [p.detach().clone() for p in g.parameters()]
    system = GanSystem(g, d, get_loss("ns"), cfg, CPU, random.noise)
    wrap = net_wrapper(None, cfg.compile)
    assert wrap is not None and net_wrapper(None, False) is None
    system.wrap_nets(wrap)
    assert isinstance(system.g, torch._dynamo.eval_frame.OptimizedModule) and system.modules["generator"] is g
    sampler = BatchSampler(
        {"x": torch.randn(64, 2, generator=torch.Generator().manual_seed(1))}, 16, random.data, CPU
    )
    result = Trainer(system, sampler, random, cfg, "fp", tmp_path / "c.pt").fit()
    system.unwrap_nets()
    assert system.g is g and len(result.history) == 3
    assert all(torch.isfinite(p).all() for p in g.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, g.parameters(), strict=True))  # it trained
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    assert not any("_orig_mod" in k for k in state["modules"]["generator"])
    assert set(state["ema"]["generator"]["module"]) == set(g.state_dict())


def test_compile_is_refused_with_the_gradient_penalty():
    with pytest.raises(ValueError, match="compile cannot run with gradient_penalty"):
        TrainConfig(compile=True, gradient_penalty=10.0)
