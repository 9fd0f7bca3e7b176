"""The bands the end-to-end test holds smoke scores to: their rule per kind of score, and the
check that names every run outside its band."""

from __future__ import annotations

import pytest

from tests.smoke_expectation import band, check, expected_path, precision_name


def test_counts_get_at_least_one_either_side_and_fractions_stay_in_0_1():
    assert band([3.0, 3.0, 3.0], "gan_mnist/ema/classes.classes_hit") == (2.0, 4.0)
    assert band([1.0, 4.0], "gan_mnist/ema/classes.classes_hit") == (0.0, 7.0)  # margin = range
    assert band([0.0, 0.01], "gan_mnist/ema/domain.recall") == (0.0, pytest.approx(0.06))
    assert band([0.98, 0.99], "evaluator/mnist/heldout_accuracy") == (pytest.approx(0.93), 1.0)


def test_distances_get_their_range_or_15_percent_of_the_median_either_side():
    low, high = band([1.0, 1.1, 1.2], "gan_ring/raw/points.fd")
    assert (low, high) == (pytest.approx(0.8), pytest.approx(1.4))  # range 0.2 > 15% of 1.1
    low, high = band([10.0, 10.1], "x/ema/a2b.domain.fd")
    assert (low, high) == (pytest.approx(10.0 - 1.5075), pytest.approx(10.1 + 1.5075))


def test_the_check_names_each_run_outside_its_band_and_each_missing_score():
    expected = {
        "file": "tests/expected/smoke-fp32.json",
        "metrics": {
            "gan_mnist/ema/domain.fd": {"seeds": [0.1, 0.12], "band": [0.05, 0.2]},
            "pix2pix_edges2emoji64/raw/a2b.l1": {"seeds": [0.15], "band": [0.12, 0.18]},
        },
    }
    got = {"gan_mnist/ema/domain.fd": 0.3, "cdcgan_mnist/ema/domain.fd": 0.1}
    problems = check(got, expected)
    assert problems[0] == "cdcgan_mnist/ema/domain.fd: not in tests/expected/smoke-fp32.json"
    assert problems[1] == "pix2pix_edges2emoji64/raw/a2b.l1: missing from this run's scores"
    assert problems[2].startswith("gan_mnist/ema/domain.fd = 0.3, outside [0.05, 0.2]")
    assert check({"gan_mnist/ema/domain.fd": 0.1, "pix2pix_edges2emoji64/raw/a2b.l1": 0.15}, expected) == []


def test_one_file_per_precision():
    assert precision_name("bf16 autocast") == "bf16" and precision_name("fp32") == "fp32"
    assert expected_path("bf16 autocast").name == "smoke-bf16.json"
    assert expected_path("fp32").name == "smoke-fp32.json"
