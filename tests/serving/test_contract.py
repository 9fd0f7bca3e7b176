"""Serving reaches a trained run only through its system's contract: the system decodes
latents and translates images, so `ganforge generate`/`serve` never name a net or assume a
latent (issue 28's step-aware contract)."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import pytest
import torch
from torch import nn

from ganforge.core.errors import ConfigError
from ganforge.serving.model import ServedModel
from ganforge.systems.gan import GanOptions
from ganforge.systems.latent import LatentKind
from ganforge.systems.registry import SYSTEM_OPTIONS, SYSTEMS
from ganforge.trained import TrainedRun
from ganforge.variants import resolve_variant
from tests.project import ROOT


def net_names() -> set[str]:
    """Every generator name any system's routes give, and the latent systems' one."""
    names = {"generator", "discriminator"}
    for name, kind in SYSTEMS.items():
        variant = resolve_variant(
            "v", {"dataset": "d", "system": {"kind": name}}, {}, "", table=SYSTEM_OPTIONS
        )
        for net, back in kind.routes(variant).values():
            names |= {net} | ({back} if back else set())
    return names


def test_serving_names_no_net_and_reads_no_latent_size():
    """No string in `ganforge.serving` names a net (a request's `generator` parameter, read
    with `.get`, names the saved copy, ema or raw), and no latent size is read off a config."""
    names = net_names()
    assert {"generator", "g_ab", "g_ba"} <= names
    found = []
    for path in sorted((ROOT / "src" / "ganforge" / "serving").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        request_keys = {
            id(arg)
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            for arg in node.args[:1]
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in names and id(node) not in request_keys:
                found.append(f"{path.name}:{node.lineno} {node.value!r}")
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "latent_dim"
                and "model" in ast.unparse(node.value)
            ):
                found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    assert found == []


class Decoder(nn.Module):
    """A generator that is not called "generator" and ignores its latent's meaning."""

    latent_dim = 3

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return z[:, :2] * 2.0


class PlainKind(LatentKind):
    """A system of another shape: its one net is "decoder", its latent 3 wide, its points
    doubled."""

    name = "plain"
    options = GanOptions

    def latent_dim(self, variant: Any) -> int:
        return 3

    def decode(self, nets: Mapping[str, nn.Module], spec: Mapping[str, Any], z, labels, batch_size):  # type: ignore[no-untyped-def]
        with torch.no_grad():
            return nets["decoder"](z, labels)

    def build(self, setup):  # type: ignore[no-untyped-def]
        raise NotImplementedError


def test_a_system_decodes_its_own_samples_for_serving():
    variant = resolve_variant("v", {"dataset": "d"}, {}, "", table=SYSTEM_OPTIONS)
    spec = {"shape": {"kind": "points", "dim": 2, "classes": 0}}
    trained = TrainedRun(variant, PlainKind(), spec, {"ema": {"decoder": Decoder()}}, {})
    model = ServedModel("plain_ring", 0, trained, "ring", False)
    assert model.latent_dim == 3 and model.describe()["latent_dim"] == 3
    out = model.decode(model.latents([1, 2]))
    assert torch.equal(out, model.latents([1, 2])[:, :2] * 2.0)
    with pytest.raises(ConfigError, match="does not translate images: use generate"):
        model.translate(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
