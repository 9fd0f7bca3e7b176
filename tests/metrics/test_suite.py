"""Sanity that proves the metrics on features: a domain classifier trained on synthetic
digits, real halves against noisy/blurred halves, IS of real data, a one-image generator,
the true ring; and the Inception plumbing with random weights under the expected name."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganforge.data.toy2d import Toy2DConfig, make_toy2d
from ganforge.metrics.classifier import ClassifierConfig, holdout_split, train_classifier
from ganforge.metrics.features import (
    INCEPTION_FILE,
    DomainExtractor,
    InceptionExtractor,
    PointsExtractor,
    Unavailable,
    load_inception,
)
from ganforge.metrics.suite import EvalConfig, Reference, class_scores, feature_scores, toy_scores
from tests.builders import digit_images

CFG = EvalConfig(real_count=600, kid_subsets=10, kid_subset_size=200)


@pytest.fixture(scope="module")
def digits():
    images, labels = digit_images(1200, seed=3)
    images = torch.from_numpy(images).unsqueeze(1)
    labels = torch.from_numpy(labels.astype(np.int64))
    cfg = ClassifierConfig(
        epochs=6, batch_size=32, width=8, feature_dim=32, holdout=0.25, shift=0, rotate=0.0, scale=0.0
    )
    model, report = train_classifier(images, labels, 10, cfg)
    return images, labels, DomainExtractor("domain:digits", model, 28, 1), report


def test_classifier_learns_the_synthetic_digits(digits):
    _, _, _, report = digits
    assert report["heldout_examples"] == 300 and report["heldout_accuracy"] > 0.95


def test_holdout_split_is_disjoint_and_seeded():
    a_train, a_held = holdout_split(100, 0.2, 7)
    _, b_held = holdout_split(100, 0.2, 7)
    assert torch.equal(a_held, b_held) and len(a_held) == 20
    assert not set(a_train.tolist()) & set(a_held.tolist())


def _noisy(images: torch.Tensor, sigma: float) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return (
        (images.float() + 255 * sigma * torch.randn(images.shape, generator=gen))
        .clamp(0, 255)
        .to(torch.uint8)
    )


def _blurred(images: torch.Tensor, radius: int) -> torch.Tensor:
    if radius == 0:
        return images
    k = 2 * radius + 1
    kernel = torch.ones(1, 1, k, k) / (k * k)
    return F.conv2d(F.pad(images.float(), (radius,) * 4, mode="replicate"), kernel).round().to(torch.uint8)


def test_fd_of_real_halves_is_small_and_grows_with_noise_and_blur(digits):
    images, labels, extractor, _ = digits
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    a, b = perm[:600], perm[600:]  # two disjoint random halves
    half_a, half_b = images[a], images[b]
    ref = Reference.build("domain", extractor(half_a), labels[a].numpy(), 10, CFG)
    base = feature_scores(ref, extractor(half_b), CFG)["fd"]
    noisy = [feature_scores(ref, extractor(_noisy(half_b, s)), CFG)["fd"] for s in (0.1, 0.2, 0.4, 0.8)]
    blurred = [feature_scores(ref, extractor(_blurred(half_b, r)), CFG)["fd"] for r in (1, 2, 3)]
    assert base < noisy[0] and base < 0.1 * noisy[-1]
    assert noisy == sorted(noisy) and blurred == sorted(blurred)
    assert base < blurred[0]


def test_is_of_real_data_is_near_the_number_of_classes(digits):
    images, labels, extractor, _ = digits
    scores = feature_scores(
        Reference.build("domain", extractor(images), labels.numpy(), 10, CFG), extractor(images[600:]), CFG
    )
    assert 9.0 < scores["is"] <= 10.0 and scores["precision"] > 0.9 and scores["recall"] > 0.9


def test_a_one_image_generator_covers_one_class_with_a_high_kl(digits):
    images, labels, extractor, _ = digits
    fake = extractor(images[:1].repeat(500, 1, 1, 1))
    classes = class_scores(fake.log_probs, [str(i) for i in range(10)], [0.1] * 10, None)
    assert classes["classes_hit"] == 1 and classes["class_kl"] > math.log(10) - 0.05
    ref = Reference.build("domain", extractor(images), labels.numpy(), 10, CFG)
    scores = feature_scores(ref, fake, CFG)
    assert scores["recall"] < 0.05 and scores["coverage"] < 0.05


def test_conditional_accuracy_of_a_model_that_obeys(digits):
    images, labels, extractor, _ = digits
    out = class_scores(
        extractor(images[:300]).log_probs, [str(i) for i in range(10)], None, labels[:300].numpy()
    )
    assert out["conditional_accuracy"] > 0.95 and out["classes_hit"] == 10


def test_true_ring_samples_score_every_mode(ctx_factory):
    ds = make_toy2d(Toy2DConfig(shape="ring", count=4000, seed=9), ctx_factory("ring"))
    scores = toy_scores(ds.points.numpy(), ds.meta["truth"], CFG)
    assert scores["modes_covered"] == 8 and scores["high_quality_fraction"] > 0.98  # 2-D: 1 - exp(-4.5)
    ref = Reference.build("points", PointsExtractor()(ds.points[:2000]), None, 0, CFG)
    assert feature_scores(ref, PointsExtractor()(ds.points[2000:]), CFG)["fd"] < 1e-2


def _random_fid_inception_state() -> dict[str, torch.Tensor]:
    """A randomly initialised network with the FID Inception's exact layout (test fixture)."""
    import pytorch_fid.inception as pfi

    net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b, net.Mixed_5c, net.Mixed_5d = (
        pfi.FIDInceptionA(192, 32),
        pfi.FIDInceptionA(256, 64),
        pfi.FIDInceptionA(288, 64),
    )
    net.Mixed_6b, net.Mixed_6c = pfi.FIDInceptionC(768, 128), pfi.FIDInceptionC(768, 160)
    net.Mixed_6d, net.Mixed_6e = pfi.FIDInceptionC(768, 160), pfi.FIDInceptionC(768, 192)
    net.Mixed_7b, net.Mixed_7c = pfi.FIDInceptionE_1(1280), pfi.FIDInceptionE_2(2048)
    return net.state_dict()


def test_inception_plumbing_with_random_weights_in_the_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("GANFORGE_INCEPTION_WEIGHTS", raising=False)
    weights = tmp_path / "hub" / "checkpoints" / INCEPTION_FILE
    weights.parent.mkdir(parents=True)
    torch.save(_random_fid_inception_state(), weights)

    refused = load_inception(download=False)  # the real path verifies the weights: these are not them
    assert isinstance(refused, Unavailable) and "SHA-256" in refused.reason

    extractor = load_inception(download=False, verify=False)
    assert isinstance(extractor, InceptionExtractor) and extractor.path == weights
    gray = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    out = extractor(gray)
    assert out.features.shape == (3, 2048) and out.log_probs.shape == (3, 1008)
    np.testing.assert_allclose(np.exp(out.log_probs).sum(axis=1), 1.0, rtol=1e-6)
    assert extractor.resize == "clean"  # the default filter: antialiased bicubic to 299
    legacy = load_inception(download=False, verify=False, resize="legacy")
    assert legacy.resize == "legacy" and legacy.net.resize_input  # pytorch-fid's own bilinear
    assert not np.allclose(legacy(gray).features, out.features)  # the filter is part of the score


def test_inception_is_unavailable_offline_without_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("GANFORGE_INCEPTION_WEIGHTS", raising=False)
    missing = load_inception(download=False)
    assert isinstance(missing, Unavailable)
    assert INCEPTION_FILE in missing.reason and "GANFORGE_INCEPTION_WEIGHTS" in missing.reason
    monkeypatch.setenv("GANFORGE_INCEPTION_WEIGHTS", str(tmp_path / "nowhere.pth"))
    assert "nowhere.pth" in load_inception(download=True).reason
