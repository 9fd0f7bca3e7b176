"""What the `ganforge generate`, `translate`, `interpolate` and `atvec` commands do, as plain
functions over a ServedModel: files in a folder with a JSON sidecar that says how they were
made (run, seeds, truncation, class, commit, dataset and its stand-in flag)."""

from __future__ import annotations

import csv
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ganforge.core.errors import ConfigError, MissingDataError, unknown_name
from ganforge.core.images import fit_images
from ganforge.core.io import atomic_path, write_json
from ganforge.evaluation.common import load_domain_extractor
from ganforge.evaluation.images import CLASSIFIER_FILE
from ganforge.layout import EVALUATORS_DIR
from ganforge.serving.files import (
    NpyStream,
    bundle_npz,
    compact_seeds,
    decode_image,
    image_files,
    png_bytes,
    square,
)
from ganforge.serving.latent import (
    AttributeVector,
    Classify,
    analogy_grid,
    apply_vector,
    attribute_vector,
    chain,
    check_attribute_model,
)
from ganforge.serving.model import ServedModel
from ganforge.systems.translation import DIRECTIONS
from ganforge.viz import image_grid, save_image, save_points

FORMATS = {"images": ("png", "npz"), "points": ("csv", "npz")}
TRUNCATION_FORM = "scale toward the mean: z·ψ"


def project_commit(root: Path) -> str | None:
    """The git commit of the project the model came from, when it is a git work tree."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def sidecar(model: ServedModel, commit: str | None, **fields: Any) -> dict[str, Any]:
    return {
        "variant": model.name,
        "run_seed": model.seed,
        "source": model.source,
        "steps": model.trained.info.get("steps"),
        "dataset": model.dataset,
        "stand_in": model.stand_in,
        "stand_in_for": model.stand_in_for,
        "git_commit": commit,
        **fields,
    }


def generate_files(
    model: ServedModel,
    seeds: Sequence[int],
    out: Path,
    fmt: str | None = None,
    label: int | None = None,
    truncation: float = 1.0,
    which: str = "ema",
    batch_size: int = 64,
    commit: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """One output per latent seed into `out`: PNGs (`seed0000.png`) or one .npz for images;
    a CSV (seed, x, y) or .npz and a scatter plot for points; and `generate.json`."""
    produces = model.produces
    if produces not in FORMATS:
        raise ConfigError(f"{model.name} makes {produces}: use `ganforge translate`")
    fmt = fmt or FORMATS[produces][0]
    if fmt not in FORMATS[produces]:
        raise ConfigError(f"{model.name} makes {produces}: format must be {' or '.join(FORMATS[produces])}")
    if batch_size < 1:
        raise ConfigError(f"batch size must be positive, got {batch_size}")
    model.latents(seeds[:1], truncation)  # checks seeds, ψ and the kind before any file is written
    model.class_index(label)
    out.mkdir(parents=True, exist_ok=True)
    unit = "img" if produces == "images" else "pt"
    bar = tqdm(total=len(seeds), unit=unit, disable=None if progress else True)  # None: off when not a tty
    write = _images if produces == "images" else _points
    files = write(model, seeds, out, fmt, label, truncation, which, batch_size, bar)
    bar.close()
    meta = sidecar(
        model,
        commit,
        generator=which if which in model.trained.nets else model.copies[0],
        seeds=compact_seeds(seeds),
        count=len(seeds),
        truncation={"psi": truncation, "form": TRUNCATION_FORM},
        label=label,
        class_name=model.class_names[label] if label is not None else None,
        format=fmt,
        files=files if len(files) <= 10 else [files[0], "…", files[-1]],
    )
    write_json(out / "generate.json", meta)
    return meta


def _images(model, seeds, out, fmt, label, truncation, which, batch_size, bar) -> list[str]:
    files: list[str] = []
    stream: NpyStream | None = None
    seed_stream: NpyStream | None = None
    for chunk, images in model.stream(seeds, label, truncation, which, batch_size):
        if fmt == "png":
            for s, img in zip(chunk, images, strict=True):
                name = f"seed{s:04d}.png"
                with atomic_path(out / name) as tmp:
                    tmp.write_bytes(png_bytes(img))
                files.append(name)
        else:
            if stream is None:
                shape = (len(seeds), *images.shape[2:], images.shape[1])
                stream = NpyStream(out / ".images.npy", shape, np.uint8)
                seed_stream = NpyStream(out / ".seeds.npy", (len(seeds),), np.int64)
            stream.write(images.permute(0, 2, 3, 1).numpy())
            seed_stream.write(np.asarray(chunk, dtype=np.int64))  # type: ignore[union-attr]
        bar.update(len(chunk))
    if stream is not None and seed_stream is not None:
        return [_bundle(out, {"images": stream, "seeds": seed_stream})]
    return files


def _points(model, seeds, out, fmt, label, truncation, which, batch_size, bar) -> list[str]:
    points = NpyStream(out / ".points.npy", (len(seeds), 2), np.float32)
    seed_stream = NpyStream(out / ".seeds.npy", (len(seeds),), np.int64)
    for chunk, xy in model.stream(seeds, label, truncation, which, batch_size):
        points.write(xy.numpy().astype(np.float32))
        seed_stream.write(np.asarray(chunk, dtype=np.int64))
        bar.update(len(chunk))
    drawn = torch.from_numpy(np.array(points.array))
    if fmt == "csv":
        with atomic_path(out / "points.csv") as tmp, tmp.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["seed", "x", "y"])
            writer.writerows(
                (int(s), f"{x:.6g}", f"{y:.6g}")
                for s, (x, y) in zip(seed_stream.array, points.array, strict=True)
            )
        name = "points.csv"
        for s in (points, seed_stream):
            s.close()
            s.path.unlink()
    else:
        name = _bundle(out, {"points": points, "seeds": seed_stream})
    save_points(
        drawn,
        torch.empty(0, 2),
        {},
        out / "points.png",
        f"{model.name} run {model.seed}: {len(seeds)} points",
    )
    return [name, "points.png"]


def _bundle(out: Path, streams: dict[str, NpyStream]) -> str:
    for s in streams.values():
        s.close()
    with atomic_path(out / "samples.npz") as tmp:
        bundle_npz(tmp, {k: s.path for k, s in streams.items()})
    for s in streams.values():
        s.path.unlink()
    return "samples.npz"


def translate_folder(
    model: ServedModel,
    in_dir: Path,
    out_dir: Path,
    direction: str | None = None,
    which: str = "ema",
    batch_size: int = 16,
    max_side: int = 4096,
    commit: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Every image of `in_dir` translated into `out_dir` (same file stem, PNG, the model's
    size); every file is checked before anything is written."""
    routes = model.directions
    if not routes:
        raise ConfigError(f"{model.name} does not translate images: use `ganforge generate`")
    direction = direction or routes[0]
    if direction not in routes:
        raise ConfigError(f"{model.name} translates {', '.join(routes)}, not {direction!r}")
    files = image_files(in_dir)
    channels = int(model.trained.spec["model_channels"][DIRECTIONS[direction][0]])
    for f in files:  # corrupt or oversized inputs fail here, before any output
        decode_image(f.read_bytes(), f.name, channels, max_side)
    out_dir.mkdir(parents=True, exist_ok=True)
    size = int(model.trained.spec["size"])
    bar = tqdm(total=len(files), unit="img", disable=None if progress else True)
    for i in range(0, len(files), batch_size):
        chunk = files[i : i + batch_size]
        images = [_fit(decode_image(f.read_bytes(), f.name, channels, max_side), size) for f in chunk]
        outputs = model.translate(torch.stack(images), direction, which)
        for f, img in zip(chunk, outputs, strict=True):
            with atomic_path(out_dir / f"{f.stem}.png") as tmp:
                tmp.write_bytes(png_bytes(img))
        bar.update(len(chunk))
    bar.close()
    meta = sidecar(model, commit, direction=direction, generator=which, inputs=len(files), image_size=size)
    write_json(out_dir / "translate.json", meta)
    return meta


def _fit(image: torch.Tensor, size: int) -> torch.Tensor:
    return fit_images(square(image)[None], size)[0]


def interpolation_image(
    model: ServedModel,
    seeds: Sequence[int],
    steps: int,
    mode: str = "slerp",
    label: int | None = None,
    truncation: float = 1.0,
    which: str = "ema",
) -> tuple[torch.Tensor, int]:
    """The images along a chain through `seeds`, a row per leg (or, with three seeds a, b, c
    and mode "analogy", the analogy grid of side `steps`), and how many go in a row."""
    if model.produces != "images":
        raise ConfigError(f"{model.name} makes {model.produces}: interpolation draws images")
    ends = model.latents(seeds, truncation)
    if mode == "analogy":
        if len(seeds) != 3:
            raise ConfigError("an analogy grid takes three seeds a, b, c (a is to b as c is to ?)")
        return model.decode(analogy_grid(ends[0], ends[1], ends[2], steps), label, which), steps
    path = model.decode(chain(ends, steps, mode), label, which)
    legs = [path[i * (steps - 1) : i * (steps - 1) + steps] for i in range(len(seeds) - 1)]
    return torch.cat(legs), steps  # one row per leg (each joint ends one row and starts the next)


def write_png(images: torch.Tensor, per_row: int, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_image(image_grid(images, per_row), path)


def classifier_path(root: Path, dataset: str) -> Path:
    return root / EVALUATORS_DIR / dataset / CLASSIFIER_FILE


def has_domain_classifier(root: Path, dataset: str) -> bool:
    return classifier_path(root, dataset).is_file()


def domain_classifier(root: Path, dataset: str) -> Classify:
    """The domain classifier its evaluator stage trained on `dataset`, as uint8 images → class."""
    extractor = load_domain_extractor(classifier_path(root, dataset), dataset, "cpu")
    if extractor is None:
        raise MissingDataError(
            f"no domain classifier for {dataset}: add it to run.evaluators and run "
            f"`dvc repro evaluator@{dataset}`"
        )

    def classify(images: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(extractor(images).log_probs.argmax(1))  # type: ignore[union-attr]

    return classify


def vector_strip(
    model: ServedModel,
    vector: Sequence[float],
    seeds: Sequence[int],
    scales: Sequence[float],
    which: str = "ema",
) -> torch.Tensor:
    """One row per seed, one column per scale: the seed's image moved along the vector."""
    return model.decode(apply_vector(model.latents(seeds), vector, scales), None, which)


STRIP_SCALES = (-1.0, 0.0, 1.0, 2.0, 3.0)  # times the chosen scale, one column each


def dataset_class(model: ServedModel, label: int | str) -> tuple[int, str]:
    """A class of the model's dataset, by index or name."""
    names = [str(n) for n in model.trained.info.get("class_names", [])]
    text = str(label)
    index = int(text) if text.isdigit() else (names.index(text) if text in names else -1)
    if not 0 <= index < len(names):
        raise unknown_name("class", text, names)
    return index, names[index]


def atvec_files(
    root: Path,
    model: ServedModel,
    label: int | str,
    out: Path,
    samples: int = 2000,
    scale: float = 1.0,
    seeds: Sequence[int] = range(6),
) -> tuple[AttributeVector, list[float]]:
    """Build the attribute vector of a class, and write it (vector.json) with a strip of it
    applied to `seeds` (strip.png: one row per seed, one column per scale)."""
    index, name = dataset_class(model, label)
    check_attribute_model(model)
    vec = attribute_vector(model, domain_classifier(root, model.dataset), index, name, samples, scale=scale)
    scales = [scale * f for f in STRIP_SCALES]
    strip = vector_strip(model, vec.vector, seeds, scales)
    out.mkdir(parents=True, exist_ok=True)
    write_json(
        out / "vector.json", {**vec.to_json(), "strip_seeds": compact_seeds(seeds), "strip_scales": scales}
    )
    write_png(strip, len(scales), out / "strip.png")
    return vec, scales
