"""Every score carries its protocol stamp: the evaluator writes the extractor's part (weights
SHA-256, resolution, resize, colour range, precision) and the reference's (dataset, its
fingerprint, split, choice); the metrics record stamps each generator's scores; a comparison
of differently stamped scores says so, line by line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.comparison import compare, markdown
from ganforge.core.io import sha256_file
from ganforge.data.prepared import PreparedDataset
from ganforge.evaluation.evaluator import build_evaluator, load_evaluator
from ganforge.evaluation.images import CLASSIFIER_FILE
from ganforge.evaluation.record import metrics_record
from ganforge.mirror import protocol_tags
from ganforge.protocol import STAMP_FIELDS, differences, table_warnings
from tests.builders import digit_images, offline_settings
from tests.runs import tiny_variant


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    images, labels = digit_images(300, seed=2)
    ds = PreparedDataset(
        "digits",
        "images",
        {"images": torch.from_numpy(images).unsqueeze(1), "labels": torch.from_numpy(labels).long()},
        [str(d) for d in range(10)],
        {"data_sha256": "ab" * 32, "split": "test"},
    )
    settings = offline_settings(real_count=200, epochs=2, batch_size=32)
    folder = tmp_path_factory.mktemp("evaluator")
    report = build_evaluator(ds, settings, folder, log=lambda m: None)
    evaluator = load_evaluator(folder, settings)
    fake = ds.images[:120]
    scores = evaluator.score({"samples": {"ema": fake, "raw": fake.flip(-1)}}, seed=0)
    variant, _ = tiny_variant("gan_mnist", steps=2)
    record = metrics_record(variant, 0, report, {"jacobian_keep": 1.0}, scores, {}, {})
    return folder, report, record


def test_the_evaluator_stamps_its_extractor_and_its_reference(scored):
    folder, report, _ = scored
    domain = report["extractors"]["domain"]["protocol"]
    assert domain == {
        "extractor": "domain:digits",
        "weights_sha256": sha256_file(folder / CLASSIFIER_FILE),
        "resolution": 28,
        "resize": "none (native resolution)",
        "colour_range": "uint8 -> [-1, 1]",
        "precision": report["extractors"]["domain"]["precision"],
    }
    assert report["reference"] == {
        "dataset": "digits",
        "fingerprint": "ab" * 32,
        "split": "test",
        "examples": 200,
        "choice": "a seeded subset (seed 1234) of the dataset",
    }
    assert "protocol" not in report["extractors"]["inception"]  # unavailable: nothing was computed


def test_every_generators_scores_carry_a_full_stamp(scored):
    _, _, record = scored
    assert set(record["protocol"]) == {"ema", "raw"}
    for generator, by_extractor in record["protocol"].items():
        stamp = by_extractor["domain"]
        assert tuple(stamp) == STAMP_FIELDS
        assert stamp["real_samples"] == 200 and stamp["generated_samples"] == 120
        assert stamp["sampling"] == {"generator": generator, "truncation": "none"}
        assert stamp["reference"]["fingerprint"] == "ab" * 32
    tags = protocol_tags(record)
    assert tags["protocol.ema.domain.resize"] == "none (native resolution)"
    assert tags["protocol.raw.domain.sampling.generator"] == "raw"


def test_fd_infinity_is_scored_beside_fd(scored):
    _, _, record = scored
    domain = record["generators"]["ema"]["domain"]
    assert domain["fd_inf"] is not None and len(domain["fd_inf_fit"]["sizes"]) == 6
    assert domain["fd_inf_fit"]["distances"][-1] == pytest.approx(domain["fd"])  # the full set


def test_differing_stamps_are_one_warning_line_per_field():
    base = {"extractor": "domain:x", "weights_sha256": "1" * 64, "resolution": 28, "resize": "none",
            "colour_range": "c", "precision": "fp32", "real_samples": 100, "generated_samples": 100,
            "reference": {"dataset": "x"}, "sampling": {"generator": "ema", "truncation": "none"}}  # fmt: skip
    assert differences({"a": base, "b": dict(base)}) == []
    other = {**base, "precision": "bf16", "weights_sha256": "2" * 64}
    assert differences({"a": base, "b": other}) == [
        "weights_sha256 differs: 111111111111 (a); 222222222222 (b)",
        "precision differs: bf16 (b); fp32 (a)",
    ]
    assert table_warnings({"a": {"domain": base}, "b": {}}) == ["domain: no protocol stamp: b"]


def test_a_comparison_of_differently_stamped_variants_warns_in_its_markdown(scored):
    _, _, record = scored
    raw_only = {**record, "variant": "other", "generators": {"raw": record["generators"]["raw"]},
                "protocol": {"raw": record["protocol"]["raw"]}}  # fmt: skip
    same = {**record, "variant": "same"}
    comparison = compare(
        {"gan_mnist": [record], "same": [same], "other": [raw_only]},
        {"gan_mnist": "digits", "same": "digits", "other": "digits"},
        [0],
        0.05,
    )
    entry = comparison["datasets"]["digits"]
    assert entry["protocol_warnings"] == [
        "domain: sampling differs: generator ema, truncation none (gan_mnist, same); "
        "generator raw, truncation none (other)"
    ]
    text = markdown(comparison)
    assert "> **Protocols differ in this table**" in text
    assert "> - domain: sampling differs" in text
    assert "Protocol (of the first variant): `domain`: domain:digits (weights " in text
    agreeing = compare(
        {"gan_mnist": [record], "same": [same]}, {"gan_mnist": "digits", "same": "digits"}, [0], 0.05
    )
    assert agreeing["datasets"]["digits"]["protocol_warnings"] == []
    assert "Protocols differ" not in markdown(agreeing)
    assert np.isfinite(entry["metrics"]["domain.fd"]["summary"]["gan_mnist"]["mean"])


def test_training_tells_mlflow_its_best_step_its_stop_and_its_warnings():
    from ganforge.mirror import training_tags

    training = {
        "validation": {"selects": "domain.fd", "best": {"step": 800, "value": 12.5},
                       "stopped": {"step": 1000, "reason": "domain.fd has not improved"}},
        "warnings": [{"step": 300, "kind": "non-convergence", "message": "G loss swings"}],
    }  # fmt: skip
    assert training_tags(training) == {
        "best_checkpoint": "step 800: domain.fd 12.5",
        "stopped_early": "step 1000: domain.fd has not improved",
        "warnings": "step 300: non-convergence (G loss swings)",
    }
    assert training_tags({}) == {}
