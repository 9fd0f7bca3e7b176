"""Feature extractors, batched from in-memory uint8 tensors (no PNG round trip):

- `inception`: pool3 (2048-d) and the 1008 logits of the FID Inception-v3 (pytorch-fid's
  `InceptionV3` with its TF-ported weights). Where the weights cannot be had, the extractor is
  *unavailable* with a reason; it never falls back to other weights.
- `domain:<dataset>`: the penultimate features and class log-probabilities of the dataset's
  domain classifier (trained in the pipeline).
- `points`: the 2-D coordinates themselves, for the toy distributions.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.images import unfit_images
from ganforge.io import sha256_file
from ganforge.metrics.classifier import DomainCNN, to_input

INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_SHA256_PREFIX = "6726825d"  # torch.hub's convention: the file name carries it
WEIGHTS_ENV = "GANFORGE_INCEPTION_WEIGHTS"


@dataclass
class Features:
    """What an extractor gives for a batch of images: features, and class log-probabilities
    when the extractor is a classifier."""

    features: np.ndarray
    log_probs: np.ndarray | None = None


@dataclass(frozen=True)
class Unavailable:
    """An extractor that cannot run here, and why."""

    name: str
    reason: str


def _batched(images: torch.Tensor, batch_size: int) -> Iterator[torch.Tensor]:
    for i in range(0, len(images), batch_size):
        yield images[i : i + batch_size]


class DomainExtractor:
    """A domain classifier's features (penultimate layer) and log-probabilities."""

    def __init__(
        self,
        name: str,
        model: DomainCNN,
        image_size: int,
        channels: int,
        device: str = "cpu",
        batch_size: int = 500,
    ) -> None:
        self.name = name
        self.model = model.to(device).eval()
        self.image_size = image_size
        self.channels = channels
        self.device = device
        self.batch_size = batch_size

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> Features:
        if images.shape[1] != self.channels:
            raise ValueError(f"{self.name} takes {self.channels}-channel images, got {images.shape[1]}")
        images = unfit_images(images, self.image_size)
        feats, logps = [], []
        for batch in _batched(images, self.batch_size):
            h = self.model.features(to_input(batch).to(self.device))
            feats.append(h.cpu())
            logps.append(F.log_softmax(self.model.head(h), dim=1).cpu())
        return Features(torch.cat(feats).double().numpy(), torch.cat(logps).double().numpy())


class PointsExtractor:
    """The coordinates of 2-D samples are their own features."""

    name = "points"

    def __call__(self, points: torch.Tensor) -> Features:
        return Features(points.double().numpy())


@contextlib.contextmanager
def _local_weights(state: dict[str, torch.Tensor]) -> Iterator[None]:
    """Make pytorch-fid build its Inception from a state dict we loaded (it would otherwise
    download): its loader is swapped for one that returns `state`, for the duration."""
    import pytorch_fid.inception as pfi

    original = pfi.load_state_dict_from_url
    pfi.load_state_dict_from_url = lambda *args, **kwargs: state
    try:
        yield
    finally:
        pfi.load_state_dict_from_url = original


class InceptionExtractor:
    """FID Inception-v3: pool3 features and softmax over its 1008 logits. Images are taken as
    uint8, grayscale tiled to 3 channels, scaled to [0, 1]; pytorch-fid resizes them to 299
    (bilinear) and normalises them to [-1, 1] as its TF original does."""

    name = "inception"

    def __init__(
        self,
        state: dict[str, torch.Tensor],
        device: str = "cpu",
        batch_size: int = 100,
        path: Path | None = None,
        sha256: str = "",
    ) -> None:
        from pytorch_fid.inception import InceptionV3

        self.path, self.sha256 = path, sha256
        with _local_weights(state):
            self.net = (
                InceptionV3(
                    [InceptionV3.BLOCK_INDEX_BY_DIM[2048]],
                    resize_input=True,
                    normalize_input=True,
                    use_fid_inception=True,
                )
                .to(device)
                .eval()
            )
        self.fc = nn.Linear(2048, 1008).to(device).eval()
        self.fc.load_state_dict({"weight": state["fc.weight"], "bias": state["fc.bias"]})
        self.device = device
        self.batch_size = batch_size

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> Features:
        feats, logps = [], []
        for batch in _batched(images, self.batch_size):
            x = batch.to(self.device).float().div(255.0)
            if x.shape[1] == 1:
                x = x.expand(-1, 3, -1, -1)
            pool = self.net(x)[0].flatten(1)
            feats.append(pool.cpu())
            logps.append(F.log_softmax(self.fc(pool), dim=1).cpu())
        return Features(torch.cat(feats).double().numpy(), torch.cat(logps).double().numpy())


def inception_weights_path(explicit: str | None = None) -> Path:
    """Where the FID Inception weights are looked for: an explicit path (params), else
    GANFORGE_INCEPTION_WEIGHTS, else torch hub's cache."""
    chosen = explicit or os.environ.get(WEIGHTS_ENV)
    if chosen:
        return Path(chosen).expanduser()
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE


def load_inception(
    explicit: str | None = None, download: bool = False, verify: bool = True, device: str = "cpu"
) -> InceptionExtractor | Unavailable:
    """The Inception extractor, or Unavailable with the reason (missing, unverifiable or
    undownloadable weights). With `download`, a missing hub-cache file is fetched from
    pytorch-fid's release address."""
    path = inception_weights_path(explicit)
    if not path.is_file() and download and not (explicit or os.environ.get(WEIGHTS_ENV)):
        try:
            from pytorch_fid.inception import FID_WEIGHTS_URL

            torch.hub.load_state_dict_from_url(FID_WEIGHTS_URL, progress=False, check_hash=True)
        except Exception as exc:  # offline: DNS or connection errors
            return Unavailable(
                "inception",
                f"weights not in {path} and the download failed ({type(exc).__name__}: {str(exc)[:160]})",
            )
    if not path.is_file():
        return Unavailable(
            "inception",
            f"FID Inception weights not found at {path}: put {INCEPTION_FILE} there or set {WEIGHTS_ENV}",
        )
    digest = sha256_file(path)
    if verify and not digest.startswith(INCEPTION_SHA256_PREFIX):
        return Unavailable(
            "inception",
            f"{path} is not the FID Inception weights (SHA-256 does not start "
            f"with {INCEPTION_SHA256_PREFIX}); no numbers from other weights",
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        return InceptionExtractor(state, device, path=path, sha256=digest)
    except Exception as exc:  # a damaged or foreign file
        return Unavailable("inception", f"{path} could not be loaded as Inception weights ({exc})")
