"""Resolving variants from params: the global train block, a variant's overrides, the
system block (a tagged union), errors, and the configure stage."""

import copy
import json

import pytest
import yaml

from ganforge.core.errors import ConfigError, MissingDataError
from ganforge.data.prepared import PreparedDataset, save_prepared
from ganforge.systems.cyclegan import CycleGanOptions
from ganforge.systems.gan import GanOptions
from ganforge.systems.pix2pix import Pix2PixOptions
from ganforge.systems.registry import SYSTEM_OPTIONS, SYSTEMS
from ganforge.train.config import TrainConfig
from ganforge.variants import check_train_options, resolve_variant
from pipeline.configure import configure, resolve, shadow_notes
from pipeline.resolved import load_variant
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


def test_every_system_kind_has_options_and_a_plugin():
    assert set(SYSTEM_OPTIONS) == set(SYSTEMS) == {"gan", "semi_supervised", "pix2pix", "cyclegan"}


def test_variant_inherits_the_global_train_block(params, root):
    v = resolve(params, "cgan_concat_mnist", root)
    own = params["variants"]["cgan_concat_mnist"].get("train") or {}
    assert "lr" not in own and v.train.lr == params["train"]["lr"]
    assert v.train.batch_size == params["train"]["batch_size"] and v.train.loss == params["train"]["loss"]
    assert v.model.generator.arch == "mlp" and v.dataset == "mnist" and len(v.dataset_sha256) == 64
    assert v.system == GanOptions(conditional=True) and v.kind == "gan"


def test_variant_override_wins_over_the_global_value(params, root):
    params = copy.deepcopy(params)
    params["train"]["lr"] = 0.05
    ring = resolve(params, "gan_ring", root)
    assert ring.train.lr == params["variants"]["gan_ring"]["train"]["lr"] != 0.05
    assert resolve(params, "cgan_concat_mnist", root).train.lr == 0.05


def test_unknown_variant_lists_the_known_ones(params, root):
    with pytest.raises(
        ConfigError,
        match=r"unknown variant 'gan_cifar'; known variants: ada_dcgan_anime, ada_dcgan_emoji64, cdcgan_mnist",
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


def test_unknown_key_in_a_net(params, root):
    params = copy.deepcopy(params)
    params["variants"]["gan_mnist"]["model"]["generator"]["widht"] = 3
    with pytest.raises(ConfigError, match=r"variants.gan_mnist.model.generator: unknown key 'widht'"):
        resolve(params, "gan_mnist", root)


def test_the_system_block_is_a_tagged_union(params, root):
    params = copy.deepcopy(params)
    params["variants"]["gan_mnist"]["system"] = {"kind": "vae"}
    with pytest.raises(
        ConfigError, match=r"unknown system kind 'vae'; known system kinds: cyclegan, gan, pix2pix"
    ):
        resolve(params, "gan_mnist", root)
    params["variants"]["gan_mnist"]["system"] = {"kind": "pix2pix", "lambda_l1": 10}
    with pytest.raises(
        ConfigError, match=r"^variants.gan_mnist.system: unknown key 'lambda_l1'; known keys: kind"
    ):
        resolve(params, "gan_mnist", root)
    params["variants"]["gan_mnist"]["system"] = {"kind": "cyclegan", "pool_size": -1}
    with pytest.raises(ConfigError, match=r"^variants.gan_mnist.system: .*must be 0 or more"):
        resolve(params, "gan_mnist", root)


def test_system_options_by_kind():
    assert Pix2PixOptions().l1_weight == 100.0 and Pix2PixOptions().direction == "a2b"
    c = CycleGanOptions()
    assert (c.cycle_weight, c.identity_weight, c.pool_size) == (10.0, 0.5, 50)
    with pytest.raises(ValueError, match="not both 0"):
        Pix2PixOptions(l1_weight=0, gan_weight=0)


def test_an_unknown_dataset_is_refused_as_unknown(params, root):
    params = copy.deepcopy(params)
    params["variants"]["gan_mnist"]["dataset"] = "imagenet"
    with pytest.raises(
        ConfigError, match=r"^variants.gan_mnist: unknown dataset 'imagenet'; known datasets: anime"
    ):
        resolve(params, "gan_mnist", root)


def test_dataset_not_prepared(params, tmp_path):
    with pytest.raises(
        MissingDataError, match=r"dataset 'mnist' is not prepared: run `dvc repro prepare@mnist`"
    ):
        resolve(params, "gan_mnist", tmp_path)


def test_configure_writes_every_variant_and_reads_it_back(root, params):
    params = copy.deepcopy(params)
    params["run"]["variants"] = {"gan_ring": "ring", "gan_mnist": "mnist"}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    lines = configure(root)
    assert lines[0].startswith("configured gan_ring: gan system, toy/toy on ring")
    assert sorted(p.name for p in (root / "data/configs").iterdir()) == ["gan_mnist.json", "gan_ring.json"]
    data = json.loads((root / "data/configs/gan_ring.json").read_text())
    assert (
        data["train"]["batch_size"] == 256
        and data["model"]["latent_dim"] == 10
        and data["system"]["kind"] == "gan"
    )
    back = load_variant(root, "gan_ring")
    assert back.train.batch_size == 256 and back.model.generator.arch == "toy"
    assert back.fingerprint_source(1)["seed"] == 1 and "steps" not in back.fingerprint_source(1)["train"]


def test_seeds_side_by_side_need_fixed_thread_counts(root, params):
    """With distributed.seed_processes above 1 the train and evaluate stages fork a process per
    seed: a run or a scoring on every core (threads 0) is refused before anything is written
    (the evaluate stage hung there: forked from a process that had computed on 2 threads)."""
    params = copy.deepcopy(params)
    params["run"].update(variants={"gan_ring": "ring"}, seeds=[0, 1])
    params["distributed"] = {**(params.get("distributed") or {}), "seed_processes": 2}
    params["evaluation"]["threads"] = 0

    def refused(pattern: str) -> None:
        (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        with pytest.raises(ConfigError, match=pattern):
            configure(root)
        assert not (root / "data/configs").exists()

    refused(r"^distributed.seed_processes is 2: set evaluation.threads \(the seeds' scoring processes: ")
    params["evaluation"]["threads"] = 1
    params["variants"]["gan_ring"].setdefault("train", {})["threads"] = 0
    params["train"]["threads"] = 0
    refused(r"^distributed.seed_processes is 2: set train.threads for gan_ring \(its seeds' runs: ")
    params["run"]["seeds"] = [0]  # one seed: nothing runs side by side
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert configure(root)[0].startswith("configured gan_ring")


def test_a_global_override_a_variant_hides_is_named(params):
    params = copy.deepcopy(params)
    params["train"]["lr"] = 0.0001
    notes = shadow_notes(params, ["gan_mnist", "cdcgan_mnist", "dcgan_emoji64"], ROOT)
    assert notes == [
        "note: train.lr=0.0001 does not reach gan_mnist, which sets its own lr: 0.0004 "
        "(override it with -S variants.gan_mnist.train.lr=...)",
        "note: train.lr=0.0001 does not reach cdcgan_mnist, which sets its own lr: 0.0004 "
        "(override it with -S variants.cdcgan_mnist.train.lr=...)",
    ]
    assert shadow_notes(yaml.safe_load((ROOT / "params.yaml").read_text()), ["gan_mnist"], ROOT) == []


def test_a_variant_may_not_set_train_options_its_system_ignores(params):
    spec = copy.deepcopy(params["variants"]["pix2pix_edges2emoji64"])
    spec["train"] = {**spec["train"], "r1_gamma": 0.5, "gradient_penalty": 10.0, "loss": "ls"}
    with pytest.raises(
        ConfigError,
        match=r"^variants\.p2p\.train: a pix2pix system does not use gradient_penalty=10\.0, r1_gamma=0\.5: "
        r"remove it$",
    ):
        resolve_variant("p2p", spec, params["train"], "", table=SYSTEM_OPTIONS)
    cyclegan = copy.deepcopy(params["variants"]["cyclegan_mnist2color"])
    cyclegan["train"] = {**cyclegan["train"], "d_steps": 2}
    with pytest.raises(ConfigError, match="a cyclegan system does not use d_steps=2"):
        resolve_variant("c", cyclegan, params["train"], "", table=SYSTEM_OPTIONS)
    cyclegan["train"]["d_steps"] = 1  # the default changes nothing, so it may be stated
    assert resolve_variant("c", cyclegan, params["train"], "", table=SYSTEM_OPTIONS).train.d_steps == 1


def test_a_global_train_option_reaches_only_the_systems_that_read_it(params, root):
    params = copy.deepcopy(params)
    params["train"].update(r1_gamma=0.5, gradient_penalty=1.0, loss="ls")
    pix2pix = resolve_variant(
        "p2p", params["variants"]["pix2pix_edges2emoji64"], params["train"], "", table=SYSTEM_OPTIONS
    )
    assert (pix2pix.train.r1_gamma, pix2pix.train.gradient_penalty, pix2pix.train.loss) == (0.0, 0.0, "ns")
    gan = resolve(params, "cgan_concat_mnist", root)
    assert (gan.train.r1_gamma, gan.train.gradient_penalty, gan.train.loss) == (0.5, 1.0, "ls")
    params["run"]["variants"] = {"ssgan_mnist": "mnist"}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert configure(root)[:3] == [
        "note: train.loss=ls does not reach ssgan_mnist: a semi_supervised system does not use it",
        "note: train.gradient_penalty=1.0 does not reach ssgan_mnist: a semi_supervised system does not use it",
        "note: train.r1_gamma=0.5 does not reach ssgan_mnist: a semi_supervised system does not use it",
    ]
    assert load_variant(root, "ssgan_mnist").train.r1_gamma == 0.0


def test_training_refuses_options_its_system_ignores():
    """The trainer's own guard, for variants built in code rather than resolved from params."""
    with pytest.raises(ConfigError, match=r"^run: a pix2pix system does not use r1_gamma=0\.5: remove it$"):
        check_train_options(Pix2PixOptions(), TrainConfig(r1_gamma=0.5), "run")
    check_train_options(GanOptions(), TrainConfig(r1_gamma=0.5, gradient_penalty=0.1), "run")


def test_options_one_kind_reads_live_in_its_system_block(params):
    """Top-k training and progressive growing are the gan system's own options: set in
    `system:`, refused in `train:` (an unknown key), and unknown to the other kinds."""
    gan = resolve_variant(
        "g", {"dataset": "mnist", "system": {"top_k": 0.5, "top_k_end": 100}}, params["train"], "",
        table=SYSTEM_OPTIONS,
    )  # fmt: skip
    assert gan.system == GanOptions(top_k=0.5, top_k_end=100) and gan.to_json()["system"]["top_k"] == 0.5
    with pytest.raises(ConfigError, match=r"^variants\.g\.train: unknown key 'top_k'; known keys: "):
        resolve_variant(
            "g", {"dataset": "mnist", "train": {"top_k": 0.5}}, params["train"], "", table=SYSTEM_OPTIONS
        )
    spec = copy.deepcopy(params["variants"]["pix2pix_edges2emoji64"])
    spec["system"]["growth_stable"] = 10
    with pytest.raises(
        ConfigError, match=r"^variants\.p\.system: unknown key 'growth_stable'; known keys: kind, "
    ):
        resolve_variant("p", spec, params["train"], "", table=SYSTEM_OPTIONS)
    for bad, message in [
        ({"top_k": 0.0}, "top_k must be in"),
        ({"growth_fade": 5}, "growth_fade needs growth_stable"),
        ({"drift": -0.1}, "must be 0 or more"),
    ]:
        with pytest.raises(ConfigError, match=message):
            resolve_variant(
                "g", {"dataset": "mnist", "system": bad}, params["train"], "", table=SYSTEM_OPTIONS
            )
    with pytest.raises(ConfigError, match=r"^variants\.g: compile cannot run with growth"):
        resolve_variant(
            "g", {"dataset": "mnist", "system": {"growth_stable": 5}, "train": {"compile": True}}, params["train"], "",
            table=SYSTEM_OPTIONS,
        )  # fmt: skip


def test_the_options_table_is_derived_from_the_systems():
    """Each kind's options class is defined in the kind's own module; the table holds them all."""
    for name, kind in SYSTEMS.items():
        assert SYSTEM_OPTIONS[name] is kind.options
        assert kind.options.__module__ == type(kind).__module__, name
        assert kind.options().kind == name


@pytest.mark.parametrize("profile", ["smoke", "quick", "bench", "fewshot", "full"])
def test_every_variant_of_every_profile_resolves(profile):
    """A profile's settings (its `train:` block, each variant's overrides) pass the checks the
    configure stage makes, before anyone runs it: e.g. eval_every a multiple of log_every."""
    from pipeline.params import compose

    params = yaml.safe_load(compose(ROOT, [f"profile={profile}"]))
    for name in params["run"]["variants"]:
        resolve_variant(name, params["variants"][name], params["train"], "", profile, table=SYSTEM_OPTIONS)
