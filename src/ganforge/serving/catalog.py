"""The trained runs of a project, found by listing its model folders: a name a user gives is
looked up among the names found there (never joined into a path), and models load lazily
(`weights_only=True`) into a bounded cache. `models:/<name>/<version>` names a generator
in MLflow's model registry instead."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ganforge.core.errors import ConfigError, MissingDataError, unknown_name
from ganforge.data.prepared import dataset_paths
from ganforge.layout import CHECKPOINT_CHOICES, GENERATOR_FILE, MODELS_DIR, PREPARED_DIR, SCORES_JSON
from ganforge.serving.model import REGISTRY_SCHEME, ServedModel, served
from ganforge.serving.pyfunc import load_registered


class UnknownModelError(ConfigError):
    """A model name that is not among the project's trained runs (or not registered)."""


def check_checkpoint(checkpoint: str) -> str:
    if checkpoint not in CHECKPOINT_CHOICES:
        raise ConfigError(f"unknown checkpoint {checkpoint!r}; known: {', '.join(CHECKPOINT_CHOICES)}")
    return checkpoint


class Catalog:
    """What a project has trained, and a cache of at most `cache_size` loaded runs. Runs are
    served from their `checkpoint`: "final" (the last step's generators) or "best" (the step
    with the best validation score, for runs scored during training)."""

    def __init__(
        self,
        root: Path,
        cache_size: int = 8,
        device: str = "cpu",
        registry_loader: Callable[[str], ServedModel] | None = None,
        checkpoint: str = "final",
    ) -> None:
        if cache_size < 1:
            raise ConfigError(f"cache size must be positive, got {cache_size}")
        self.checkpoint = check_checkpoint(checkpoint)
        self.root, self.cache_size, self.device = Path(root), cache_size, device
        self.registry_loader = registry_loader
        self._cache: OrderedDict[tuple[str, int | None], ServedModel] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        """Lookups the cache answered, and those that loaded a model (for /metrics)."""

    def runs(self, file: str | None = None) -> dict[str, dict[int, Path]]:
        """{variant: {run seed: generator file}} for every finished run on disk that has the
        catalog's checkpoint (or `file`)."""
        file = file or CHECKPOINT_CHOICES[self.checkpoint]
        found: dict[str, dict[int, Path]] = {}
        models = self.root / MODELS_DIR
        if not models.is_dir():
            return found
        for variant_dir in sorted(p for p in models.iterdir() if p.is_dir()):
            seeds = {
                int(d.name): d / file
                for d in variant_dir.iterdir()
                if d.name.isdigit() and (d / file).is_file()
            }
            if seeds:
                found[variant_dir.name] = dict(sorted(seeds.items()))
        return found

    def scores(self) -> dict[str, Any]:
        """The headline scores of each variant (reports/scores.json), empty before `compare`."""
        path = self.root / SCORES_JSON
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def resolve(self, name: str, seed: int | None = None) -> tuple[str, int, Path]:
        """The (variant, run seed, file) of a request, from what exists: unknown names and
        seeds are refused with the ones there are."""
        runs = self.runs()
        if name not in runs and self.checkpoint != "final" and name in self.runs(GENERATOR_FILE):
            raise ConfigError(
                f"{name} has no {self.checkpoint} checkpoint: it was trained without scores during "
                f"training (train.eval_every 0, or a system not scored then); use --checkpoint final"
            )
        if name not in runs:
            raise UnknownModelError(str(unknown_name("model", name, list(runs))))
        seeds = runs[name]
        if seed is None:
            seed = next(iter(seeds))
        if seed not in seeds:
            raise ConfigError(f"{name} has no run seed {seed}; it has {', '.join(map(str, seeds))}")
        return name, seed, seeds[seed]

    def get(self, name: str, seed: int | None = None) -> ServedModel:
        """A loaded run: a variant name (and run seed, default its first) or a registry URI."""
        registry = name.startswith(REGISTRY_SCHEME)
        path: Path | None = None
        if registry:
            key: tuple[str, int | None] = (name, None)
        else:
            variant, run_seed, path = self.resolve(name, seed)
            key = (variant, run_seed)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                self.hits += 1
                return self._cache[key]
            self.misses += 1
        if path is None:
            if self.registry_loader is None:
                raise MissingDataError(f"{name}: no MLflow model registry is configured")
            model = self.registry_loader(name)
        else:
            scores = self.scores().get(key[0], {})
            model = served(path, key[0], int(key[1] or 0), scores, "project", self.device)
            if "stand_in" not in model.trained.info:  # a generator saved before the flag was
                model.stand_in, model.stand_in_for = self._stand_in(model.dataset)
        with self._lock:
            self._cache[key] = model
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return model

    def _stand_in(self, dataset: str) -> tuple[bool, str | None]:
        """Whether a prepared dataset of the project is a stand-in (its metadata says)."""
        try:
            meta = json.loads(dataset_paths(self.root / PREPARED_DIR, dataset)[1].read_text("utf-8"))
        except (OSError, ValueError):
            return False, None
        return bool(meta.get("stand_in")), meta.get("stand_in_for")

    def describe(self) -> list[dict[str, Any]]:
        """Every variant with its run seeds and what its first run says about it."""
        out = []
        for name, seeds in self.runs().items():
            entry = self.get(name, next(iter(seeds))).describe()
            entry.pop("run_seed")
            entry["run_seeds"] = list(seeds)
            out.append(entry)
        return out

    def cached(self) -> int:
        with self._lock:
            return len(self._cache)


def open_catalog(root: Path, cache_size: int = 8, device: str = "cpu", checkpoint: str = "final") -> Catalog:
    """The catalog of a project, with `models:/` names read from its MLflow store's registry."""

    def registry(uri: str) -> ServedModel:
        from ganforge.tracking import default_uri

        return load_registered(uri, default_uri(root))

    return Catalog(root, cache_size, device, registry, checkpoint)
