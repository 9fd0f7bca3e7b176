"""Latent-space tools, after White's "Sampling Generative Networks" (dribnet/plat), rebuilt
on ganforge's models: spherical and linear interpolation, chains through several seeds, the
analogy grid, and attribute vectors found with the dataset's domain classifier."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch

from ganforge.core.errors import ConfigError
from ganforge.sampling import slerp
from ganforge.serving.model import ServedModel

MODES = ("slerp", "lerp")
Classify = Callable[[torch.Tensor], torch.Tensor]  # uint8 images → predicted class per image


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return (1 - t.view(-1, 1)) * a + t.view(-1, 1) * b


def between(a: torch.Tensor, b: torch.Tensor, steps: int, mode: str = "slerp") -> torch.Tensor:
    """`steps` latents from a to b (both included), along the great circle or the line."""
    if mode not in MODES:
        raise ConfigError(f"unknown interpolation {mode!r}; known: {', '.join(MODES)}")
    if steps < 2:
        raise ConfigError(f"an interpolation needs at least 2 steps, got {steps}")
    t = torch.linspace(0.0, 1.0, steps)
    ends = a.expand(steps, -1), b.expand(steps, -1)
    return slerp(*ends, t) if mode == "slerp" else lerp(*ends, t)


def chain(points: torch.Tensor, steps: int, mode: str = "slerp") -> torch.Tensor:
    """A path through every row of `points` in turn, `steps` latents per leg (each joint once)."""
    if len(points) < 2:
        raise ConfigError("a chain needs at least 2 seeds")
    legs = [between(points[i], points[i + 1], steps, mode) for i in range(len(points) - 1)]
    return torch.cat([legs[0], *(leg[1:] for leg in legs[1:])])


def analogy_grid(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, size: int) -> torch.Tensor:
    """size × size latents (row-major) spanning the parallelogram a (top left), b (top right),
    c (bottom left) and c + (b − a) (bottom right): "a is to b as c is to ?"."""
    if size < 2:
        raise ConfigError(f"an analogy grid needs a side of at least 2, got {size}")
    t = torch.linspace(0.0, 1.0, size)
    u, v = t.repeat(size), t.repeat_interleave(size)  # u along a row, v down the rows
    return a + u.view(-1, 1) * (b - a) + v.view(-1, 1) * (c - a)


@dataclass
class AttributeVector:
    """The mean latent of samples the classifier calls `label` minus the mean of the rest,
    with how often the classifier said `label` without it and with it (on other seeds)."""

    variant: str
    run_seed: int
    label: str
    label_index: int
    vector: list[float]
    built_from: int
    labelled: int
    scale: float
    rate_before: float
    rate_after: float
    checked_on: int

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def check_attribute_model(model: ServedModel) -> None:
    """Attribute vectors are for unconditional image models."""
    if model.conditional:
        raise ConfigError(f"{model.name} is conditional: choose the class instead of an attribute vector")
    if model.produces != "images":
        raise ConfigError(f"{model.name} makes {model.produces}: attribute vectors need an image model")


def attribute_vector(
    model: ServedModel,
    classify: Classify,
    label_index: int,
    label: str,
    samples: int = 2000,
    base_seed: int = 0,
    scale: float = 1.0,
    check: int = 500,
) -> AttributeVector:
    """Build the vector of one class on an unconditional model from `samples` latents (seeds
    base_seed…), and measure it on `check` other seeds moved by `scale` times the vector."""
    check_attribute_model(model)
    z = model.latents(range(base_seed, base_seed + samples))
    predicted = classify(model.decode(z))
    inside = predicted == label_index
    if int(inside.sum()) == 0 or int((~inside).sum()) == 0:
        raise ConfigError(
            f"the classifier called {int(inside.sum())} of {samples} samples {label!r}: "
            "an attribute vector needs samples on both sides (draw more samples)"
        )
    vector = z[inside].mean(0) - z[~inside].mean(0)
    held = model.latents(range(base_seed + samples, base_seed + samples + check))
    before = (classify(model.decode(held)) == label_index).float().mean().item()
    after = (classify(model.decode(held + scale * vector)) == label_index).float().mean().item()
    return AttributeVector(
        model.name, model.seed, label, label_index, vector.tolist(), samples, int(inside.sum()),
        scale, before, after, check,
    )  # fmt: skip


def apply_vector(z: torch.Tensor, vector: Sequence[float], scales: Sequence[float]) -> torch.Tensor:
    """Each latent of z moved by every scale times the vector: len(z) × len(scales) latents."""
    v = torch.tensor(list(vector), dtype=z.dtype)
    if v.shape[0] != z.shape[1]:
        raise ConfigError(
            f"the attribute vector has {v.shape[0]} dimensions, the model's latents {z.shape[1]}"
        )
    return torch.stack([row + s * v for row in z for s in scales])
