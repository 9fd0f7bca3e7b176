"""`configure`: resolve every variant of the profile (the global `train:` block plus its own
overrides) into `data/configs/<variant>.json`, which the train stages depend on, so DVC
re-trains exactly the variants whose resolved configuration changed. One stage for all
variants: a file whose content did not change does not invalidate its train stages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ganforge.core.config import from_dict
from ganforge.core.errors import ConfigError, MissingDataError, unknown_name
from ganforge.core.io import atomic_dir, write_json
from ganforge.layout import CONFIG_DIR, PREPARED_DIR
from ganforge.systems.registry import SYSTEM_OPTIONS
from ganforge.train.config import TrainConfig
from ganforge.train.distributed import distributed_config
from ganforge.variants import Variant, parse_spec, resolve_variant, shadowed_overrides, unread_options
from pipeline.params import CONF_DIR, entry, load_params, run_seeds, section


def dataset_checksum(root: Path, dataset: str, where: str) -> str:
    """The prepared dataset's checksum, read from its metadata (written by prepare)."""
    meta = root / PREPARED_DIR / f"{dataset}.json"
    if not meta.is_file():
        raise MissingDataError(
            f"{where}: dataset {dataset!r} is not prepared: run `dvc repro prepare@{dataset}`"
        )
    return str(json.loads(meta.read_text(encoding="utf-8"))["data_sha256"])


def profile_train_defaults(root: Path, profile: str) -> dict[str, Any]:
    """The `train:` block as conf/ sets it for the profile, before any `-S` override."""
    conf = root / CONF_DIR
    base = yaml.safe_load((conf / "config.yaml").read_text(encoding="utf-8")).get("train") or {}
    path = conf / "profile" / f"{profile}.yaml"
    own = (
        (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("train") or {} if path.is_file() else {}
    )
    return {**base, **own}


def resolve(params: dict[str, Any], name: str, root: Path) -> Variant:
    """One variant of params.yaml, typed; its dataset must be known and prepared."""
    where = f"variants.{name}"
    spec = entry(params, "variants", name, "variant")
    dataset = parse_spec(name, spec).dataset
    datasets = section(params, "datasets")
    if dataset not in datasets:
        error = unknown_name("dataset", dataset, list(datasets))
        raise ConfigError(f"{where}: {error}")
    tracking = params.get("tracking") or {}
    return resolve_variant(
        name,
        spec,
        section(params, "train"),
        dataset_checksum(root, dataset, where),
        profile=str(params.get("profile", "")),
        experiment=str(tracking.get("experiment", "ganforge")),
        live=bool(tracking.get("live", False)),
        table=SYSTEM_OPTIONS,
    )


def shadow_notes(params: dict[str, Any], names: list[str], root: Path) -> list[str]:
    """One line per variant whose own `train:` value hides a changed global one."""
    profile = str(params.get("profile", ""))
    defaults = profile_train_defaults(root, profile) if (root / CONF_DIR).is_dir() else {}
    train = section(params, "train")
    notes = []
    for name in names:
        spec = entry(params, "variants", name, "variant")
        for key, global_value, own in shadowed_overrides(spec, train, defaults):
            notes.append(
                f"note: train.{key}={global_value} does not reach {name}, which sets its own {key}: {own} "
                f"(override it with -S variants.{name}.train.{key}=...)"
            )
    return notes


FORKED = (
    "each would take every core, its bits would depend on their number, and a process forked "
    "from one that computed on several threads can hang"
)


def side_by_side(params: dict[str, Any]) -> int:
    """How many seeds the train and evaluate stages run side by side, one forked process each."""
    options = distributed_config(params)
    return options.seed_processes if options.world_size == 1 and len(run_seeds(params)) > 1 else 1


def check_side_by_side(params: dict[str, Any], variants: list[Variant]) -> None:
    """Seeds side by side need a fixed thread count for training and for scoring."""
    processes = side_by_side(params)
    if processes == 1:
        return
    where = f"distributed.seed_processes is {processes}"
    if not int((params.get("evaluation") or {}).get("threads", 0)):
        raise ConfigError(f"{where}: set evaluation.threads (the seeds' scoring processes: {FORKED})")
    for variant in variants:
        if not variant.train.threads:
            raise ConfigError(f"{where}: set train.threads for {variant.name} (its seeds' runs: {FORKED})")


def configure(root: Path) -> list[str]:
    """Write the resolved configuration of every variant of the profile; one line each."""
    params = load_params(root)
    names = list((params.get("run") or {}).get("variants") or {})
    if not names:
        raise ConfigError("params.yaml: run.variants is empty: the profile trains nothing")
    lines = []
    global_train = from_dict(TrainConfig, section(params, "train"), "train")
    variants = [resolve(params, name, root) for name in names]
    check_side_by_side(params, variants)
    with atomic_dir(root / CONFIG_DIR) as folder:
        for name, variant in zip(names, variants, strict=True):
            write_json(folder / f"{name}.json", variant.to_json())
            t = variant.train
            lines += [
                f"note: train.{key}={value} does not reach {name}: a {variant.kind} system does not use it"
                for key, value in unread_options(variant.system, global_train)
            ]
            lines.append(
                f"configured {name}: {variant.kind} system, {variant.model.generator.arch}/"
                f"{variant.model.discriminator.arch} on {variant.dataset}, {t.steps} steps, "
                f"batch {t.batch_size}, lr G {t.generator_lr:g} D {t.discriminator_lr:g}, loss {t.loss}"
            )
    return lines + shadow_notes(params, names, root)
