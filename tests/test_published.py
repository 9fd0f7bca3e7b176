"""The published benchmark tables: which datasets they apply to, this run's rows as mean ±
standard error over seeds beside the paper's, and the set-up line of each variant."""

import math

import pytest

from ganforge.published import (
    TABLES,
    benchmark_of,
    describe_sampling,
    describe_setup,
    mean_se,
    published_table,
)


def test_which_datasets_compare_with_which_table():
    assert benchmark_of({"kind": "points", "shape": "grid"}) == "grid"
    assert benchmark_of({"kind": "points", "shape": "ring"}) == "ring"
    assert benchmark_of({"kind": "points", "shape": "circle"}) is None  # no published table
    assert benchmark_of({"kind": "images", "evaluator": "stacked", "modes": 1000}) == "stacked"
    assert benchmark_of({"kind": "images", "source": "mnist"}) is None


def test_mean_and_standard_error():
    mean, se = mean_se([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5 and se == pytest.approx(math.sqrt(5 / 3) / 2)
    assert mean_se([7.0]) == (7.0, None)


def run(modes, hq, kl, samples=2500, generator="ema"):
    scores = {"modes": {"modes_covered": modes, "high_quality_fraction": hq, "reverse_kl": kl}}
    return {"generators": {generator: scores}, "generated_samples": samples}


def test_the_table_puts_this_run_above_the_published_rows_in_the_papers_units():
    results = {
        "gan_grid": [run(20, 0.90, 0.5), run(22, 0.94, 0.3)],
        "raw_only": [run(25, 1.0, 0.0, generator="raw")],
    }
    lines = published_table(TABLES["grid"], results, {"gan_grid": "G toy", "raw_only": "G toy"})
    text = "\n".join(lines)
    assert lines[0] == "### Beside the published results: Grid of 25 Gaussians"
    assert lines[2] == "|  | modes | high-quality samples | reverse KL | seeds | samples per run |"
    # modes and percentages to one decimal, KL to two; ± the standard error over seeds
    assert "| **gan_grid** (here) | 21.0 ± 1.0 | 92.0 ± 2.0 | 0.40 ± 0.10 | 2 | 2500 |" in text
    assert "| **raw_only** (here) | 25.0 | 100.0 | 0.00 | 1 | 2500 |" in text  # raw when no EMA
    assert "| GAN (published) | 17.3 ± 0.8 | 94.8 ± 0.7 | 0.70 ± 0.07 | 10 | – |" in text
    assert "| PacGAN4 (published) | 24.8 ± 0.2 | 93.6 ± 0.6 | 0.04 ± 0.01 | 10 | – |" in text
    assert text.index("(here)") < text.index("(published)")
    assert "The paper's protocol: 2,500 samples per run" in text and "- `gan_grid`: G toy" in text


def test_stacked_rows_without_a_published_error_show_the_mean_alone():
    lines = published_table(TABLES["stacked"], {"v": [run(990, 0.0, 0.05, samples=26000)]}, {"v": "x"})
    text = "\n".join(lines)
    assert "| DCGAN (published) | 99.0 | 3.40 | – | – |" in text  # quoted from VEEGAN: runs unknown
    assert "| PacDCGAN2 (published) | 1000.0 ± 0.0 | 0.06 ± 0.00 | 10 | – |" in text
    assert "| **v** (here) | 990.0 | 0.05 | 1 | 26000 |" in text


def test_the_setup_line_names_nets_options_and_budget():
    net = {"arch": "dcgan", "width": 32, "pack": 1, "minibatch_kernels": 0, "spectral_norm": False}
    config = {
        "image_size": 32,
        "model": {"latent_dim": 100, "generator": net, "discriminator": {**net, "pack": 2}},
        "train": {"loss": "ns", "lr": 0.0002, "betas": [0.5, 0.999], "steps": 5000, "batch_size": 64},
    }
    assert describe_setup(config) == (
        "G dcgan, D dcgan (width 32/32, 32 px), pack 2, loss ns, z 100-D, adam lr 0.0002 β (0.5, 0.999), "
        "5,000 steps of 64"
    )


def test_the_setup_line_names_hidden_widths_and_the_lr_decay():
    g = {"arch": "toy", "hidden": [128, 128], "pack": 1}
    config = {
        "model": {
            "latent_dim": 10,
            "generator": g,
            "discriminator": {"arch": "toy", "hidden": None, "pack": 4},
        },
        "train": {
            "loss": "ns",
            "lr": 0.001,
            "betas": [0.5, 0.9],
            "steps": 60000,
            "batch_size": 256,
            "lr_schedule": "linear",
            "lr_decay_start": 30000,
            "lr_decay_end": 60000,
        },
    }
    assert describe_setup(config) == (
        "G toy, D toy (hidden 128-128/default), pack 4, loss ns, z 10-D, adam lr 0.001 falling linearly "
        "to 0 over steps 30,000–60,000 β (0.5, 0.9), 60,000 steps of 256"
    )


def test_the_setup_line_says_when_samples_were_truncated():
    assert describe_sampling({}) == describe_sampling({"jacobian_keep": 1.0}) == ""
    assert describe_sampling({"jacobian_keep": 0.9}) == (
        "; sampled with Jacobian truncation: of 1.11× the latents, the 90% with the smallest "
        "‖∂G/∂z‖ (Tanielian et al., 2020)"
    )


def test_cifar_tables_show_each_protocol_and_leave_unreported_cells_empty():
    assert benchmark_of({"kind": "images", "benchmark": "cifar10"}) == "cifar10"
    assert benchmark_of({"kind": "images", "benchmark": "cifar100"}) == "cifar100"
    scores = {"inception": {"fd_10000": 30.0, "fd": 28.0, "is_mean": 6.5}}
    results = {"sngan_cifar10": [{"generators": {"ema": scores}, "generated_samples": 50000}] * 2}
    lines = published_table(TABLES["cifar10"], results, {"sngan_cifar10": "G dcgan, D dcgan"})
    text = "\n".join(lines)
    assert "| **sngan_cifar10** (here) | 30.00 ± 0.00 | 28.00 ± 0.00 | 6.50 ± 0.00 | 2 | 50000 |" in text
    assert "| DCGAN, StudioGAN (published) | 50.28 | – | 6.70 | – | – |" in text
    assert "| SNGAN, Mimicry (published) | – | 16.77 | 7.97 | – | – |" in text
    assert "10k generated against the 10k test images" in text and "6,400 kimg" in text
