"""A trained run ready to use: what it makes (images, 2-D points or translations, as its
system says), one latent per seed, truncation, and outputs that do not depend on the batch
size they were computed in."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.core.errors import ConfigError
from ganforge.trained import TrainedRun, load_trained

SEED_MAX = 2**32 - 1
TRUNCATION_RANGE = (0.0, 1.0)


def seed_latents(seeds: Sequence[int], dim: int) -> torch.Tensor:
    """One N(0, I) latent per seed, each from its own random generator, so a seed's latent is
    the same whichever seeds are drawn beside it."""
    if not len(seeds):
        return torch.empty(0, dim)
    return torch.stack([torch.randn(dim, generator=torch.Generator().manual_seed(int(s))) for s in seeds])


def truncate(z: torch.Tensor, psi: float) -> torch.Tensor:
    """The truncation trick as scaling toward the prior's mean (0): z·ψ. ψ = 1 leaves z
    as drawn; smaller ψ trades variety for typical samples."""
    lo, hi = TRUNCATION_RANGE
    if not lo <= psi <= hi:
        raise ConfigError(f"truncation must be in [{lo}, {hi}], got {psi}")
    return z * psi


def check_seeds(seeds: Sequence[int]) -> None:
    for s in seeds:
        if not 0 <= int(s) <= SEED_MAX:
            raise ConfigError(f"latent seed {s} is out of range 0..{SEED_MAX}")


@dataclass
class ServedModel:
    """One run of a variant (`name`, run `seed`) and what the tools need to know about it."""

    name: str
    seed: int
    trained: TrainedRun
    dataset: str
    stand_in: bool
    stand_in_for: str | None = None
    scores: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def produces(self) -> str:
        return self.trained.kind.produces(self.trained.spec)

    @property
    def shape(self) -> dict[str, Any]:
        return dict(self.trained.spec.get("shape", {}))

    @property
    def latent_dim(self) -> int:
        return self.trained.kind.latent_dim(self.trained.variant)

    @property
    def class_names(self) -> list[str]:
        classes = int(self.shape.get("classes", 0) or 0)
        names = list(self.trained.spec.get("class_names", []))
        return names[:classes] if len(names) >= classes else [str(i) for i in range(classes)]

    @property
    def conditional(self) -> bool:
        return bool(self.class_names)

    @property
    def image_size(self) -> int | None:
        size = self.shape.get("size") or self.trained.spec.get("size")
        return int(size) if size else None

    @property
    def directions(self) -> list[str]:
        return list(self.trained.kind.routes(self.trained.variant))

    @property
    def copies(self) -> list[str]:
        """The saved copies of its generators: "ema" first where there is one, then "raw"."""
        return sorted(self.trained.nets, key=lambda w: w != "ema")

    def describe(self) -> dict[str, Any]:
        """What `GET /models` and the sidecars say about it."""
        return {
            "variant": self.name,
            "run_seed": self.seed,
            "source": self.source,
            "system": self.trained.variant.kind,
            "produces": self.produces,
            "dataset": self.dataset,
            "stand_in": self.stand_in,
            "stand_in_for": self.stand_in_for,
            "image_size": self.image_size,
            "latent_dim": self.latent_dim,
            "conditional": self.conditional,
            "class_names": self.class_names,
            "directions": self.directions,
            "generators": self.copies,
            "steps": self.trained.info.get("steps"),
            "scores": self.scores,
        }

    def _nets(self, which: str) -> Mapping[str, nn.Module]:
        """One saved set of its generators ("ema" or "raw"; the first it has when it lacks `which`)."""
        return self.trained.nets[which if which in self.trained.nets else self.copies[0]]

    def class_index(self, label: int | str | None) -> int | None:
        """A class given by index or name, checked against the model's classes."""
        if label is None or label == "":
            if self.conditional:
                raise ConfigError(f"{self.name} is conditional: give a class ({', '.join(self.class_names)})")
            return None
        if not self.conditional:
            raise ConfigError(f"{self.name} is not conditional: it takes no class")
        names = self.class_names
        if isinstance(label, str) and not label.lstrip("-").isdigit():
            if label not in names:
                raise ConfigError(
                    f"unknown class {label!r} of {self.name}; known classes: {', '.join(names)}"
                )
            return names.index(label)
        index = int(label)
        if not 0 <= index < len(names):
            raise ConfigError(f"class {index} is out of range 0..{len(names) - 1} for {self.name}")
        return index

    def latents(self, seeds: Sequence[int], truncation: float = 1.0) -> torch.Tensor:
        self._needs_latents()
        check_seeds(seeds)
        return truncate(seed_latents(seeds, self.latent_dim), truncation)

    def _needs_latents(self) -> None:
        if not self.latent_dim:
            raise ConfigError(f"{self.name} translates images: use translate, not generate")

    def decode(
        self, z: torch.Tensor, label: int | None = None, which: str = "ema", batch_size: int = 64
    ) -> torch.Tensor:
        """What its generators make from latents z (uint8 images, or float points), as its
        system decodes them, one batch of at most `batch_size` at a time."""
        self._needs_latents()
        labels = torch.full((len(z),), label, dtype=torch.long) if label is not None else None
        return self.trained.kind.decode(self._nets(which), self.trained.spec, z, labels, batch_size)

    def stream(
        self,
        seeds: Sequence[int],
        label: int | None = None,
        truncation: float = 1.0,
        which: str = "ema",
        batch_size: int = 64,
    ) -> Iterator[tuple[list[int], torch.Tensor]]:
        """(seeds, outputs) a batch at a time: memory stays bounded for any number of seeds."""
        check_seeds(seeds)
        for i in range(0, len(seeds), batch_size):
            chunk = [int(s) for s in seeds[i : i + batch_size]]
            yield chunk, self.decode(self.latents(chunk, truncation), label, which, batch_size)

    def translate(
        self, images: torch.Tensor, direction: str | None = None, which: str = "ema"
    ) -> torch.Tensor:
        """uint8 N×C×H×W images of the source domain → uint8 translations at the model's size."""
        routes = self.directions
        if not routes:
            raise ConfigError(f"{self.name} does not translate images: use generate")
        variant = replace(self.trained.variant, name=self.name)
        return self.trained.kind.translate(
            self._nets(which), variant, self.trained.spec, images, direction or routes[0]
        )


REGISTRY_SCHEME = "models:/"


def served(path: Path, name: str, seed: int, scores: dict[str, Any], source: str, device: str) -> ServedModel:
    """A run's generator file as a ServedModel (dataset and stand-in flag from the file)."""
    trained = load_trained(path, device)
    info = trained.info
    return ServedModel(
        name=name,
        seed=seed,
        trained=trained,
        dataset=str(info.get("dataset", trained.variant.dataset)),
        stand_in=bool(info.get("stand_in", False)),
        stand_in_for=info.get("stand_in_for"),
        scores=scores,
        source=source,
    )
