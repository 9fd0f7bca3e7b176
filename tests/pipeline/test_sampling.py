"""Drawing evaluation latents: Jacobian norms against hand computations, Jacobian truncation
(what it keeps, labels kept in step, the strings between modes dropped), and its settings in
`sample:` as the evaluate stage reads them."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import yaml

from ganforge.core.errors import ConfigError
from ganforge.nets.base import Generator
from ganforge.nets.config import DataShape, NetConfig
from ganforge.sampling import SampleConfig, jacobian_norms, latents, lowest_per_label, sample_latents
from ganforge.systems.registry import SYSTEM_OPTIONS
from ganforge.variants import resolve_variant
from pipeline.evaluate import check_sampling, sample_config
from tests.project import ROOT


class Formula(Generator):
    """A 2-D generator given by a formula of z, or of z and the labels (conditional)."""

    def __init__(self, formula, latent_dim: int = 3, classes: int = 0) -> None:
        super().__init__(latent_dim, DataShape("points", dim=2, classes=classes), NetConfig("toy"))
        self.formula = formula
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # a parameter says which device

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return (self.formula(z) if labels is None else self.formula(z, labels)) + self.anchor


def test_jacobian_norms_match_hand_computations():
    a = torch.tensor([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])
    linear = Formula(lambda z: z @ a.T)
    z = latents(7, 3, 0)
    assert torch.allclose(jacobian_norms(linear, z, batch_size=3), torch.full((7,), math.sqrt(15.0)))
    # x = (z0², z1): J = [[2 z0, 0, 0], [0, 1, 0]], so ‖J‖ = √(4 z0² + 1)
    square = Formula(lambda z: torch.stack([z[:, 0] ** 2, z[:, 1]], 1))
    assert torch.allclose(jacobian_norms(square, z), (4 * z[:, 0] ** 2 + 1).sqrt(), atol=1e-6)


def test_without_truncation_the_latents_are_the_seeded_batch():
    g = Formula(lambda z, y: z[:, :2], classes=4)
    z, labels = sample_latents(g, 10, 5)
    assert torch.equal(z, latents(10, 3, 5))
    assert labels.tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    assert sample_latents(Formula(lambda z: z[:, :2]), 10, 5)[1] is None


def test_truncation_keeps_the_flattest_latents_of_a_larger_draw():
    g = Formula(lambda z: torch.stack([z[:, 0] ** 2, z[:, 1]], 1))
    z, labels = sample_latents(g, 90, 3, keep=0.9)
    pool = latents(100, 3, 3)
    assert labels is None and z.shape == (90, 3)
    kept = torch.tensor([(pool == row).all(1).nonzero().item() for row in z])
    assert kept.tolist() == sorted(kept.tolist())  # pool order
    dropped = torch.tensor(sorted(set(range(100)) - set(kept.tolist())))
    norms = jacobian_norms(g, pool)
    assert norms[kept].max() <= norms[dropped].min()


def test_truncation_keeps_the_labels_in_step_class_by_class():
    steep = torch.tensor([0.1, 5.0])  # class 1 is steeper: a global cut would drop it all
    g = Formula(lambda z, y: z[:, :2] * steep[y].unsqueeze(1) * (1 + z[:, 2:]), classes=2)
    z, labels = sample_latents(g, 20, 1, keep=0.5)
    assert labels.tolist() == [0, 1] * 10
    pool = latents(40, 3, 1)
    rows = [(pool == row).all(1).nonzero().item() for row in z]
    assert [r % 2 for r in rows] == labels.tolist()  # each kept latent was drawn for its label
    pool_labels = torch.arange(40) % 2
    norms = jacobian_norms(g, pool, pool_labels)
    for label in (0, 1):
        kept = [r for r in rows if r % 2 == label]
        others = [r for r in range(label, 40, 2) if r not in kept]
        assert norms[kept].max() <= norms[others].min()


def test_truncation_drops_the_string_between_two_modes():
    # Two modes at x = ±2 joined by a steep string through 0, as a continuous G must draw them.
    g = Formula(lambda z: torch.stack([2 * torch.tanh(4 * z[:, 0]), torch.zeros_like(z[:, 0])], 1))
    between = lambda z: (g(z, None)[:, 0].abs() < 1.5).float().mean().item()  # noqa: E731
    assert between(sample_latents(g, 2000, 0)[0]) > 0.1
    z, _ = sample_latents(g, 2000, 0, keep=0.75)  # the string: |z0| < 0.24, 19% of the mass
    assert between(z) == 0.0
    assert (g(z, None)[:, 0] > 0).float().mean().item() == pytest.approx(0.5, abs=0.05)  # both modes kept


def test_lowest_per_label_refuses_a_pool_too_small():
    with pytest.raises(ValueError, match="label 1: 2 rows wanted, the pool has 1"):
        lowest_per_label(torch.zeros(3), torch.tensor([0, 0, 1]), torch.tensor([0, 1, 0, 1]))


@pytest.mark.parametrize("keep", [0.0, -0.5, 1.5])
def test_the_kept_fraction_is_checked(keep):
    with pytest.raises(ValueError, match=r"jacobian_keep must be in \(0, 1\]"):
        SampleConfig(jacobian_keep=keep)


def test_sample_config_reads_each_variants_kept_fraction():
    section = {"count": 100, "counts": {"grid": 2500}, "jacobian_keep": {"a": 0.9}}
    assert sample_config(section, "grid", "a", ["a", "b"]).jacobian_keep == 0.9
    assert sample_config(section, "grid", "b", ["a", "b"]) == SampleConfig(count=2500)
    with pytest.raises(ConfigError, match=r"^sample\.jacobian_keep: c is not a variant$"):
        sample_config({"jacobian_keep": {"c": 0.5}}, "grid", "a", ["a", "b"])
    with pytest.raises(ConfigError, match="must map variant names to fractions"):
        sample_config({"jacobian_keep": 0.5}, "grid", "a", ["a"])
    with pytest.raises(ConfigError, match=r"jacobian_keep must be in \(0, 1\]"):
        sample_config({"jacobian_keep": {"a": 2}}, "grid", "a", ["a"])


def test_a_translation_system_has_no_latents_to_truncate():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    spec = copy.deepcopy(params["variants"]["pix2pix_edges2emoji64"])
    p2p = resolve_variant("p2p", spec, params["train"], "", table=SYSTEM_OPTIONS)
    check_sampling(p2p, SampleConfig())
    with pytest.raises(ConfigError, match=r"^sample\.jacobian_keep\.p2p: a pix2pix system draws no latents"):
        check_sampling(p2p, SampleConfig(jacobian_keep=0.9))
    gan = resolve_variant(
        "g", params["variants"]["pacgan4_jbt_grid"], params["train"], "", table=SYSTEM_OPTIONS
    )
    check_sampling(gan, SampleConfig(jacobian_keep=0.9))
    assert params["sample"]["jacobian_keep"] == {"pacgan4_jbt_grid": 0.9}
