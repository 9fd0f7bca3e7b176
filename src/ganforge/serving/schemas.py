"""The bodies of the API's JSON requests (pydantic): what a client may send, with its
ranges, so a bad request is refused (422, one line) before any route runs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ganforge.serving.model import SEED_MAX, TRUNCATION_RANGE

Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]
Truncation = Annotated[float, Field(ge=TRUNCATION_RANGE[0], le=TRUNCATION_RANGE[1])]
Which = Literal["ema", "raw"]


class ModelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    model: str = Field(min_length=1, max_length=200, description="A variant, or models:/<name>/<version>.")
    run_seed: int | None = Field(None, ge=0, description="Which run of the variant (default: its first).")
    generator: Which = "ema"


class GenerateBody(ModelRequest):
    seeds: list[Seed] | None = Field(None, description="Latent seeds (or give count and base_seed).")
    count: int | None = Field(None, ge=1)
    base_seed: Seed = 0
    label: int | str | None = Field(None, alias="class", description="Class index or name.")
    truncation: Truncation = 1.0
    format: Literal["grid", "png", "points"] = "grid"


class InterpolateBody(ModelRequest):
    seeds: list[Seed] = Field(min_length=2, description="Seeds to pass through (analogy: a, b, c).")
    steps: int = Field(8, ge=2)
    mode: Literal["slerp", "lerp", "analogy"] = "slerp"
    label: int | str | None = Field(None, alias="class")
    truncation: Truncation = 1.0


class AtvecBody(ModelRequest):
    label: int | str = Field(alias="class", description="A class of the model's dataset.")
    scale: float = Field(1.0, ge=-5.0, le=5.0)
    seeds: list[Seed] = Field(default_factory=lambda: list(range(4)), min_length=1)
