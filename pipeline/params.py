"""Reading params.yaml and composing it from conf/ (the Hydra composition `dvc exp run` does)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ganforge.core.config import from_dict
from ganforge.core.errors import ConfigError, unknown_name

PARAMS_FILE = "params.yaml"
CONF_DIR = "conf"
MIRROR_ENV = "GANFORGE_DATA_MIRROR"
OFFLINE_ENV = "GANFORGE_OFFLINE"


def load_params(root: Path) -> dict[str, Any]:
    """params.yaml of the project at `root`, as a dict."""
    path = root / PARAMS_FILE
    if not path.is_file():
        raise ConfigError(f"{path} not found: run from the project root (where dvc.yaml is)")
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(params, dict):
        raise ConfigError(f"{path} must hold a mapping of sections")
    return params


def section(params: Mapping[str, Any], key: str) -> dict[str, Any]:
    """A top-level section of params.yaml (a mapping)."""
    value = params.get(key)
    if not isinstance(value, Mapping):
        raise ConfigError(f"params.yaml: section {key!r} is missing or not a mapping")
    return dict(value)


def entry(params: Mapping[str, Any], key: str, name: str, kind: str) -> dict[str, Any]:
    """`params[key][name]`, or an error listing the known names."""
    table = section(params, key)
    if name not in table:
        raise unknown_name(kind, name, list(table))
    value = table[name]
    if not isinstance(value, Mapping):
        raise ConfigError(f"params.yaml: {key}.{name} must be a mapping")
    return dict(value)


@dataclass(frozen=True)
class DataSettings:
    """The `data:` section: where raw files come from."""

    mirror: str | None = None
    offline: bool = False
    verify_checksums: bool = True
    download_timeout_s: float = 60.0


def _env_flag(value: str) -> bool:
    if value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if value.strip().lower() in ("", "0", "false", "no", "off"):
        return False
    raise ConfigError(f"{OFFLINE_ENV}={value!r}: use 1 or 0")


def data_settings(params: Mapping[str, Any], root: Path) -> tuple[DataSettings, Path | None]:
    """The data settings and the mirror folder; the environment wins over params.yaml."""
    settings = from_dict(DataSettings, params.get("data"), "data")
    if OFFLINE_ENV in os.environ:
        settings = DataSettings(
            settings.mirror,
            _env_flag(os.environ[OFFLINE_ENV]),
            settings.verify_checksums,
            settings.download_timeout_s,
        )
    raw_mirror = os.environ.get(MIRROR_ENV) or settings.mirror
    if not raw_mirror:
        return settings, None
    mirror = Path(raw_mirror).expanduser()
    mirror = mirror if mirror.is_absolute() else (root / mirror)
    if not mirror.is_dir():
        origin = MIRROR_ENV if os.environ.get(MIRROR_ENV) else "data.mirror"
        raise ConfigError(f"{origin}={raw_mirror!r}: {mirror} is not a folder")
    return settings, mirror.resolve()


def compose(root: Path, overrides: list[str]) -> str:
    """params.yaml composed from conf/ with Hydra overrides, as `dvc exp run` writes it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    conf = (root / CONF_DIR).resolve()
    try:
        with initialize_config_dir(str(conf), version_base=None):
            cfg = hydra_compose(config_name="config", overrides=overrides)
        OmegaConf.resolve(cfg)
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(f"cannot compose {conf}: {str(exc).splitlines()[0]}") from exc
    return OmegaConf.to_yaml(cfg)


def run_seeds(params: Mapping[str, Any]) -> list[int]:
    """The profile's seeds (`run.seeds`): non-negative integers."""
    seeds = (params.get("run") or {}).get("seeds", [])
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int) or s < 0]
    if bad:
        raise ConfigError(f"params.yaml: run.seeds must be non-negative integers, got {bad[0]!r}")
    return list(seeds)


def chosen_seeds(params: Mapping[str, Any], seed: int | None) -> list[int]:
    """Every seed of the profile, or the one asked for, which must be one of them (a run
    outside `run.seeds` would be trained, but no stage would ever score or track it)."""
    seeds = run_seeds(params)
    if not seeds:
        raise ConfigError("params.yaml: run.seeds is empty")
    if seed is None:
        return seeds
    if seed not in seeds:
        listed = ", ".join(map(str, seeds))
        raise ConfigError(f"seed {seed} is not one of the profile's seeds (run.seeds: {listed})")
    return [seed]


def run_variants(params: Mapping[str, Any]) -> dict[str, str]:
    """variant -> dataset, for every variant of the profile."""
    return dict((params.get("run") or {}).get("variants") or {})


def git_commit(root: Path) -> str:
    """The project's current commit ("unknown" outside git)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def write_params(root: Path, overrides: list[str], check: bool = False) -> str:
    """Compose params.yaml from conf/ (or, with `check`, only check that it matches)."""
    from ganforge.core.io import atomic_path

    text = compose(root, overrides)
    target = root / PARAMS_FILE
    if check:
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            raise ConfigError(f"{PARAMS_FILE} does not match conf/: run `make params` and commit it")
        return f"{PARAMS_FILE} matches conf/"
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return f"wrote {PARAMS_FILE} from conf/ ({' '.join(overrides) or 'defaults'})"
