"""The loader MLflow calls for a registered ganforge generator (`loader_module`), and the
loading of `models:/<name>/<version>` for the tools: the generator file is read with
`weights_only=True`; a model whose MLmodel names another loader is refused."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ganforge.core.errors import ConfigError, DataError, MissingDataError
from ganforge.layout import GENERATOR_FILE
from ganforge.serving.model import REGISTRY_SCHEME, ServedModel, served
from ganforge.serving.registry import LOADER_MODULE, MODEL_FOLDER
from ganforge.tracking import ModelRegistry, NotRegisteredError


class GeneratorPyfunc:
    """What `mlflow.pyfunc.load_model` returns the predictions of: `predict` takes latent
    seeds (a list, or a DataFrame with a `seed` and optionally a `class` column) and gives
    uint8 N×H×W×C images (float N×2 points for 2-D models)."""

    def __init__(self, model: ServedModel) -> None:
        self.model = model

    def predict(self, model_input: Any, params: Mapping[str, Any] | None = None) -> np.ndarray:
        params = dict(params or {})
        seeds, label = _seeds_and_class(model_input)
        label = self.model.class_index(label if label is not None else params.get("class"))
        z = self.model.latents(seeds, float(params.get("truncation", 1.0)))
        out = self.model.decode(z, label, str(params.get("generator", "ema")))
        return out.numpy() if self.model.produces == "points" else out.permute(0, 2, 3, 1).numpy()


def _seeds_and_class(model_input: Any) -> tuple[list[int], Any]:
    columns = getattr(model_input, "columns", None)
    if columns is not None:
        if "seed" not in columns:
            raise ConfigError("the model input needs a `seed` column")
        labels = model_input["class"].unique().tolist() if "class" in columns else [None]
        if len(labels) != 1:
            raise ConfigError("one class per call")
        return [int(s) for s in model_input["seed"]], labels[0]
    return [int(s) for s in np.asarray(model_input).ravel()], None


def _load_pyfunc(data_path: str) -> GeneratorPyfunc:
    """MLflow's entry point for a `loader_module` model: `data_path` is the generator file."""
    path = Path(data_path)
    path = path / GENERATOR_FILE if path.is_dir() else path
    trained = served(path, path.parent.name, 0, {}, "registry", "cpu")
    trained.seed = int(trained.trained.info.get("seed", 0))
    return GeneratorPyfunc(trained)


def parse_model_uri(uri: str) -> tuple[str, str]:
    """`models:/<name>/<version>` as (name, version); anything else is refused."""
    rest = uri.removeprefix(REGISTRY_SCHEME)
    name, _, version = rest.partition("/")
    if not uri.startswith(REGISTRY_SCHEME) or not name or not version.isdigit():
        raise ConfigError(f"bad model URI {uri!r}: use models:/<name>/<version>, e.g. models:/gan_mnist/1")
    return name, version


def load_registered(uri: str, tracking_uri: str) -> ServedModel:
    """A registered generator, downloaded from the registry and loaded without unpickling
    (its MLmodel must name this module as its loader)."""
    import yaml

    name, version = parse_model_uri(uri)
    registry = ModelRegistry(tracking_uri)
    try:
        mv, local = registry.download(name, int(version), MODEL_FOLDER)
    except NotRegisteredError:
        raise MissingDataError(f"{uri} is not in the model registry; {registered(registry, name)}") from None
    if local is None or not (local / "MLmodel").is_file():
        raise DataError(f"{uri} has no ganforge generator artifact")
    spec = yaml.safe_load((local / "MLmodel").read_text(encoding="utf-8"))
    pyfunc = (spec.get("flavors") or {}).get("python_function") or {}
    if pyfunc.get("loader_module") != LOADER_MODULE:
        raise DataError(f"{uri} is not a ganforge generator (its loader is {pyfunc.get('loader_module')!r})")
    path = local / str(pyfunc.get("data", ""))
    path = path / GENERATOR_FILE if path.is_dir() else path
    model = served(path, uri, int(mv.tags.get("seed", 0)), _scores(mv.tags), "registry", "cpu")
    return model


def registered(registry: ModelRegistry, name: str) -> str:
    """What the registry holds, for an error a client may read: the versions of `name`, or the
    registered names (never where the store lives)."""
    try:
        names = registry.names()
    except NotRegisteredError as exc:
        return str(exc)
    if name in names:
        return f"{name} has versions {', '.join(str(v.version) for v in registry.versions(name))}"
    return f"registered models: {', '.join(names)}" if names else "no model is registered"


def _scores(tags: Mapping[str, str]) -> dict[str, float]:
    out = {}
    for k, v in tags.items():
        if k.startswith("score."):
            try:
                out[k.removeprefix("score.")] = float(v)
            except ValueError:
                continue
    return out
