"""Resolving variants from params: the global train block, a variant's overrides, errors."""

import copy
import json

import pytest
import yaml

from ganforge.data.prepared import PreparedDataset, save_prepared
from ganforge.errors import ConfigError, MissingDataError
from pipeline.variants import configure, load_resolved, resolve
from tests.project import ROOT


@pytest.fixture
def params():
    return yaml.safe_load((ROOT / "params.yaml").read_text())


@pytest.fixture
def root(tmp_path):
    import torch

    for name in ("mnist", "ring"):
        tensors = (
            {"images": torch.zeros(4, 1, 28, 28, dtype=torch.uint8)}
            if name == "mnist"
            else {"points": torch.zeros(4, 2)}
        )
        save_prepared(
            PreparedDataset(name, "images" if name == "mnist" else "points", tensors),
            tmp_path / "data/prepared",
        )
    return tmp_path


def test_variant_inherits_the_global_train_block(params, root):
    v = resolve(params, "cgan_concat_mnist", root)
    own = params["variants"]["cgan_concat_mnist"].get("train") or {}
    assert "lr" not in own and v.train.lr == params["train"]["lr"]
    assert v.train.batch_size == params["train"]["batch_size"] and v.train.loss == params["train"]["loss"]
    assert v.train.steps == own.get("steps", params["train"]["steps"])
    assert v.model.generator.arch == "mlp" and v.dataset == "mnist" and len(v.dataset_sha256) == 64


def test_variant_override_wins_over_the_global_value(params, root):
    params = copy.deepcopy(params)
    params["train"]["lr"] = 0.05
    ring = resolve(params, "gan_ring", root)
    assert ring.train.lr == params["variants"]["gan_ring"]["train"]["lr"] != 0.05
    assert "lr" not in (params["variants"]["cgan_concat_mnist"].get("train") or {})
    assert resolve(params, "cgan_concat_mnist", root).train.lr == 0.05


def test_unknown_variant_lists_the_known_ones(params, root):
    with pytest.raises(
        ConfigError,
        match=r"unknown variant 'gan_cifar'; known variants: cdcgan_mnist, cgan_concat_mnist, cgan_mnist",
    ):
        resolve(params, "gan_cifar", root)


def test_unknown_train_key_in_a_variant(params, root):
    params = copy.deepcopy(params)
    params["variants"]["gan_mnist"]["train"] = {"learning_rate": 1.0}
    with pytest.raises(
        ConfigError, match=r"^variants.gan_mnist.train: unknown key 'learning_rate'; known keys: steps"
    ):
        resolve(params, "gan_mnist", root)


def test_bad_global_value_is_reported_where_it_is(params, root):
    params = copy.deepcopy(params)
    params["train"]["batch_size"] = 0
    with pytest.raises(ConfigError, match=r"^train: batch_size must be positive, got 0$"):
        resolve(params, "gan_mnist", root)


def test_unknown_loss_and_arch_are_caught_when_used(params, root):
    params = copy.deepcopy(params)
    params["variants"]["gan_mnist"]["model"]["generator"]["widht"] = 3
    with pytest.raises(ConfigError, match=r"variants.gan_mnist.model.generator: unknown key 'widht'"):
        resolve(params, "gan_mnist", root)


def test_dataset_not_prepared(params, tmp_path):
    with pytest.raises(
        MissingDataError, match=r"dataset 'mnist' is not prepared: run `dvc repro prepare@mnist`"
    ):
        resolve(params, "gan_mnist", tmp_path)


def test_configure_writes_the_resolved_config_and_reads_it_back(root):
    (root / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    line = configure("gan_ring", root)
    assert line.startswith("configured gan_ring: toy/toy on ring")
    data = json.loads((root / "data/configs/gan_ring.json").read_text())
    assert data["train"]["batch_size"] == 256 and data["model"]["latent_dim"] == 10
    back = load_resolved(root, "gan_ring")
    assert back.train.batch_size == 256 and back.model.generator.arch == "toy"
    assert back.fingerprint_source(1)["seed"] == 1 and "steps" not in back.fingerprint_source(1)["train"]
