"""Published results ganforge's runs are put beside, each with its protocol and set-up: the
mode-collapse benchmarks (PacGAN, Lin et al. 2018, Tables 1 and 2; the rows it quotes from
VEEGAN, Srivastava et al. 2017) and the field's CIFAR tables (StudioGAN's and Mimicry's
model zoos), and the table that puts a run's variants beside them (mean ± standard error over
seeds)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ganforge.comparison import arm_values

PACGAN = "PacGAN (Lin et al., NeurIPS 2018)"


@dataclass(frozen=True)
class Column:
    key: str
    """Path under a generator's scores."""
    label: str
    percent: bool = False


@dataclass(frozen=True)
class Row:
    name: str
    values: tuple[tuple[float | None, float | None], ...]
    """(mean, standard error or None) per column, in the paper's units; a None mean: the
    source does not report that column."""
    runs: int | None = 10
    """Runs averaged (None: the paper does not say, e.g. rows quoted from another paper)."""


@dataclass(frozen=True)
class Published:
    title: str
    source: str
    protocol: str
    setup: str
    """The paper's architecture and budget, to say where this run differs."""
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]


_TOY_COLUMNS = (
    Column("modes.modes_covered", "modes"),
    Column("modes.high_quality_fraction", "high-quality samples", percent=True),
    Column("modes.reverse_kl", "reverse KL"),
)
_TOY_PROTOCOL = (
    "2,500 samples per run; a sample is high quality within 3σ of its nearest mode; a mode is "
    "covered when it is the nearest mode of at least one high-quality sample; reverse KL is "
    "KL(high-quality samples' mode histogram ‖ uniform)"
)
_TOY_SETUP = (
    "{paper}: G 4 × 400 ReLU, D 3 × 200 maxout (5 pieces), z 2-D, Adam lr 1e-4 β₁ 0.8, batch 100, "
    "400 epochs of 100,000 points, 10 runs (standard error)"
)

TABLES: Mapping[str, Published] = {
    "ring": Published(
        "Ring of 8 Gaussians",
        f"{PACGAN}, Table 1 (2D-ring)",
        _TOY_PROTOCOL,
        _TOY_SETUP.format(paper="PacGAN"),
        _TOY_COLUMNS,
        (
            Row("GAN", ((6.3, 0.5), (98.2, 0.2), (0.45, 0.09))),
            Row("ALI", ((6.6, 0.3), (97.6, 0.4), (0.36, 0.04))),
            Row("PacGAN2", ((7.9, 0.1), (95.6, 2.0), (0.07, 0.03))),
            Row("PacGAN3", ((7.8, 0.1), (97.7, 0.3), (0.10, 0.02))),
            Row("PacGAN4", ((7.8, 0.1), (95.9, 1.4), (0.07, 0.02))),
        ),
    ),
    "grid": Published(
        "Grid of 25 Gaussians",
        f"{PACGAN}, Table 1 (2D-grid)",
        _TOY_PROTOCOL,
        _TOY_SETUP.format(paper="PacGAN"),
        _TOY_COLUMNS,
        (
            Row("GAN", ((17.3, 0.8), (94.8, 0.7), (0.70, 0.07))),
            Row("ALI", ((24.1, 0.4), (95.7, 0.6), (0.14, 0.03))),
            Row("PacGAN2", ((23.8, 0.7), (91.3, 0.8), (0.13, 0.04))),
            Row("PacGAN3", ((24.6, 0.4), (94.2, 0.4), (0.06, 0.02))),
            Row("PacGAN4", ((24.8, 0.2), (93.6, 0.6), (0.04, 0.01))),
        ),
    ),
    "stacked": Published(
        "Stacked MNIST (1,000 modes)",
        f"{PACGAN}, Table 2 (VEEGAN's architecture; the first four rows as VEEGAN reports them)",
        "26,000 samples per run; each channel is read by an MNIST digit classifier, the mode of a "
        "sample is its three digits; modes covered = modes with at least one sample; KL = KL(mode "
        "histogram ‖ uniform over the 1,000 modes)",
        "PacGAN: VEEGAN's DCGAN at 28×28 (TensorFlow DCGAN, z 100), Adam lr 2e-4 β₁ 0.5, batch 64, "
        "50 epochs of 128,000 stacks (100,000 steps), 10 runs (standard error)",
        (Column("modes.modes_covered", "modes"), Column("modes.reverse_kl", "KL")),
        (
            Row("DCGAN", ((99.0, None), (3.40, None)), None),
            Row("ALI", ((16.0, None), (5.40, None)), None),
            Row("Unrolled GAN", ((48.7, None), (4.32, None)), None),
            Row("VEEGAN", ((150.0, None), (2.95, None)), None),
            Row("DCGAN, PacGAN's implementation", ((78.9, 6.46), (4.50, 0.127))),
            Row("PacDCGAN2", ((1000.0, 0.0), (0.06, 0.003))),
            Row("PacDCGAN3", ((1000.0, 0.0), (0.06, 0.003))),
            Row("PacDCGAN4", ((1000.0, 0.0), (0.07, 0.005))),
        ),
    ),
}


STUDIOGAN = "PyTorch-StudioGAN (Kang et al.), CIFAR10 model zoo"
MIMICRY = "Mimicry (Lee and Town, CVPR-W 2020), CIFAR-10/100 baselines"
_CIFAR_COLUMNS = (
    Column("inception.fd_10000", "FID 10k vs 10k"),
    Column("inception.fd", "FID 50k vs 50k"),
    Column("inception.is_mean", "IS"),
)
_CIFAR_PROTOCOL = (
    "Inception FID (pytorch-fid's FID weights here). StudioGAN: 10k generated against the 10k "
    "test images, IS on the 10k generated; Mimicry: 50k generated against the 50k training "
    "images, IS on 50k in 10 splits. Here: `fd` is 50k generated against 50k training images "
    "(evaluation.real_count), `fd_10000` the first 10k of each (a training-split subset, not the "
    "test split StudioGAN used), IS over 10 splits of every generated image; each score's "
    "stamp in reports/scores.protocol.json says the rest (resize filter, precision)"
)
CIFAR_TABLES: Mapping[str, Published] = {
    "cifar10": Published(
        "CIFAR-10 (32×32, unconditional)",
        f"{STUDIOGAN} (README at 3bb7464) and {MIMICRY}",
        _CIFAR_PROTOCOL,
        "StudioGAN: batch 64, lr 2e-4, Adam(0.5, 0.999); DCGAN (CNN) 200k G steps with 2 D steps "
        "each (12,800 kimg to G), WGAN-GP and SNGAN (ResNet; SNGAN with hinge loss) 100k steps "
        "with 5 D steps (6,400 kimg), BigGAN 100k steps. Mimicry: ResNet backbones, batch 64, "
        "lr 2e-4 falling linearly, Adam(0, 0.9), 5 D steps, 100k G steps (6,400 kimg). Neither "
        "README gives GPU hours; benchmarks/gpu_check.py measures this machine's img/s",
        _CIFAR_COLUMNS,
        (
            Row("DCGAN, StudioGAN", ((50.281, None), (None, None), (6.697, None)), None),
            Row("WGAN-GP, StudioGAN", ((25.883, None), (None, None), (7.281, None)), None),
            Row("SNGAN (hinge), StudioGAN", ((13.161, None), (None, None), (8.810, None)), None),
            Row("BigGAN, StudioGAN", ((8.128, None), (None, None), (9.850, None)), None),
            Row("WGAN-GP, Mimicry", ((None, None), (22.29, None), (7.33, None)), None),
            Row("SNGAN, Mimicry", ((None, None), (16.77, None), (7.97, None)), None),
        ),
    ),
    "cifar100": Published(
        "CIFAR-100 (32×32, unconditional)",
        MIMICRY,
        _CIFAR_PROTOCOL,
        "Mimicry: ResNet SNGAN, batch 64, lr 2e-4 falling linearly, Adam(0, 0.9), 5 D steps, "
        "100k G steps (6,400 kimg)",
        _CIFAR_COLUMNS,
        (Row("SNGAN, Mimicry", ((None, None), (22.61, None), (7.57, None)), None),),
    ),
}


TABLES = {**TABLES, **CIFAR_TABLES}


def benchmark_of(meta: Mapping[str, Any]) -> str | None:
    """Which published table a prepared dataset (its metadata JSON) compares with, if any."""
    if meta.get("kind") == "points" and meta.get("shape") in ("ring", "grid"):
        return str(meta["shape"])
    if meta.get("evaluator") == "stacked":
        return "stacked"
    if meta.get("benchmark") in CIFAR_TABLES:
        return str(meta["benchmark"])
    return None


def mean_se(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and standard error (sample std / √n; None for one value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def _cell(mean: float | None, se: float | None, digits: int) -> str:
    if mean is None:
        return "–"
    text = f"{mean:.{digits}f}"
    return text if se is None else f"{text} ± {se:.{digits}f}"


def _digits(column: Column) -> int:
    """Decimals as the paper prints them: one for modes and percentages, two for KL."""
    return 1 if column.percent or column.key.endswith("modes_covered") else 2


def published_table(
    table: Published,
    results: Mapping[str, Sequence[Mapping[str, Any]]],
    setups: Mapping[str, str],
    generator: str = "ema",
) -> list[str]:
    """Markdown: this run's variants (mean ± standard error over their seeds, samples per run
    from their results) above the published rows, with the protocol, the source and a line
    per variant saying its set-up beside the paper's."""
    header = ["", *(c.label for c in table.columns), "seeds", "samples per run"]
    lines = [
        f"### Beside the published results: {table.title}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for variant, runs in results.items():
        cells = []
        for column in table.columns:
            values = arm_values(runs, generator, column.key)
            if not values:
                cells.append("–")
                continue
            scale = 100.0 if column.percent else 1.0
            mean, se = mean_se([v * scale for v in values])
            cells.append(_cell(mean, se, _digits(column)))
        samples = sorted({int(r.get("generated_samples", 0)) for r in runs})
        counts = ", ".join(map(str, samples))
        lines.append(f"| **{variant}** (here) | " + " | ".join(cells) + f" | {len(runs)} | {counts} |")
    for row in table.rows:
        cells = [_cell(m, se, _digits(c)) for c, (m, se) in zip(table.columns, row.values, strict=True)]
        runs = str(row.runs) if row.runs is not None else "–"
        lines.append(f"| {row.name} (published) | " + " | ".join(cells) + f" | {runs} | – |")
    lines += [
        "",
        f"Here: mean ± standard error over seeds, {generator} generator. Published: {table.source}.",
        f"The paper's protocol: {table.protocol} (this run's samples per run are in the table).",
        f"Set-up: {table.setup}; here:",
        "",
        *(f"- `{variant}`: {setup}" for variant, setup in setups.items()),
        "",
    ]
    return lines


def describe_setup(config: Mapping[str, Any]) -> str:
    """One line on a variant's nets and budget, from its resolved config (data/configs)."""
    model, train = config["model"], config["train"]
    g, d = model["generator"], model["discriminator"]
    nets = f"G {g['arch']}, D {d['arch']}"
    if g["arch"] == "dcgan":
        nets += f" (width {g['width']}/{d['width']}, {config.get('image_size') or 'native'} px)"
    elif g.get("hidden") or d.get("hidden"):
        nets += f" (hidden {_sizes(g.get('hidden'))}/{_sizes(d.get('hidden'))})"
    extras = [
        f"pack {d['pack']}" if d.get("pack", 1) > 1 else "",
        f"minibatch discrimination {d['minibatch_kernels']}×{d['minibatch_dims']}"
        if d.get("minibatch_kernels")
        else "",
        "spectral norm" if d.get("spectral_norm") else "",
    ]
    lr = f"lr {train['lr']:g}"
    if train.get("lr_schedule") == "linear":
        lr += f" falling linearly to 0 over steps {train['lr_decay_start']:,}–{train['lr_decay_end']:,}"
    return (
        f"{nets}{''.join(f', {e}' for e in extras if e)}, loss {train['loss']}, z {model['latent_dim']}-D, "
        f"{train.get('optimizer', 'adam')} {lr} β {tuple(train['betas'])}, "
        f"{train['steps']:,} steps of {train['batch_size']}"
    )


def describe_sampling(sampling: Mapping[str, Any]) -> str:
    """The tail of a set-up line for how the evaluation samples were drawn (results' `sampling`)."""
    keep = float(sampling.get("jacobian_keep", 1.0))
    if keep >= 1.0:
        return ""
    return (
        f"; sampled with Jacobian truncation: of {1 / keep:.3g}× the latents, the {keep:.0%} "
        "with the smallest ‖∂G/∂z‖ (Tanielian et al., 2020)"
    )


def _sizes(hidden: Sequence[int] | None) -> str:
    """Hidden layer widths as `128-128`; the arch's default when unset."""
    return "-".join(map(str, hidden)) if hidden else "default"
