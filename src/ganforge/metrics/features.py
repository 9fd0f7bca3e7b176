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
import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ganforge.core.images import unfit_images
from ganforge.core.io import sha256_file
from ganforge.metrics.classifier import DomainCNN, to_input
from ganforge.metrics.resize import ResizeFilter, check_filter, resize_images

INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_SIZE = 299  # the resolution Inception-v3 takes
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


def fold_batch_norm(net: nn.Module) -> int:
    """Fold every eval-mode batch norm that follows a convolution into the convolution's
    weights and bias (in place; the features move by about 1e-6 relative): the `conv`/`bn`
    pairs of Inception's blocks and consecutive Conv2d, BatchNorm2d in a Sequential. Returns
    how many were folded."""
    folded = 0
    for module in list(net.modules()):
        conv, bn = getattr(module, "conv", None), getattr(module, "bn", None)
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            module.conv, module.bn = fuse_conv_bn_eval(conv, bn), nn.Identity()
            folded += 1
        if isinstance(module, nn.Sequential):
            for i in range(len(module) - 1):
                if isinstance(module[i], nn.Conv2d) and isinstance(module[i + 1], nn.BatchNorm2d):
                    module[i], module[i + 1] = fuse_conv_bn_eval(module[i], module[i + 1]), nn.Identity()
                    folded += 1
    return folded


@dataclass(frozen=True)
class Route:
    """How an extractor runs its (eval-mode) net: batch norm folded into the convolutions,
    channels_last memory (oneDNN's and cuDNN's fast layout for convolutions), both fp32 and
    exact to about 1e-6; and, optionally, bf16 autocast, which `benchmarks/metrics_speed.py`
    admits only where it moves a Fréchet distance by less than 0.5% against fp32 (the domain
    classifiers: 0.2%; Inception could not be checked with its real weights here)."""

    channels_last: bool = True
    amp_dtype: torch.dtype | None = None
    fold: bool = True

    @property
    def precision(self) -> str:
        return "bf16 autocast" if self.amp_dtype is not None else "fp32"

    def prepare(self, net: nn.Module) -> nn.Module:
        if self.fold:
            fold_batch_norm(net.eval())
        return net.to(memory_format=torch.channels_last) if self.channels_last else net

    def input(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def autocast(self, device: str) -> contextlib.AbstractContextManager[None]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(torch.device(device).type, dtype=self.amp_dtype)


def extraction_route(device: str, precision: str = "auto") -> Route:
    """The route every extractor takes by default: with `precision` "auto", bf16 autocast
    where it is fast (CUDA with bf16, a CPU with native bf16), measured within 0.5% of fp32's
    Fréchet distances (see Route); "fp32" keeps fp32."""
    if precision == "fp32":
        return Route()
    dev = torch.device(device)
    if dev.type == "cuda":
        fast = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    else:
        from ganforge.core.device import cpu_has_native_bf16

        fast = dev.type == "cpu" and cpu_has_native_bf16()
    return Route(amp_dtype=torch.bfloat16 if fast else None)


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
        route: Route | None = None,
    ) -> None:
        self.name = name
        self.route = route or extraction_route(device)
        self.model = self.route.prepare(copy.deepcopy(model).to(device).eval())
        self.image_size = image_size
        self.channels = channels
        self.device = device
        self.batch_size = batch_size

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> Features:
        if images.shape[1] != self.channels:
            raise ValueError(f"{self.name} takes {self.channels}-channel images, got {images.shape[1]}")
        images = unfit_images(images, self.image_size)
        feats, logps = [], []
        for batch in _batched(images, self.batch_size):
            with self.route.autocast(self.device):
                h = self.model.features(self.route.input(to_input(batch).to(self.device))).float()
                logits = self.model.head(h).float()
            feats.append(h.cpu())
            logps.append(F.log_softmax(logits, dim=1).cpu())
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
    uint8, grayscale tiled to 3 channels, scaled to [0, 1], resized to 299 with the `resize`
    filter (`clean`: antialiased bicubic, as PIL; `legacy`: pytorch-fid's own bilinear) and
    normalised to [-1, 1] as its TF original does."""

    name = "inception"

    def __init__(
        self,
        state: dict[str, torch.Tensor],
        device: str = "cpu",
        batch_size: int | None = None,
        path: Path | None = None,
        sha256: str = "",
        route: Route | None = None,
        resize: ResizeFilter = "clean",
    ) -> None:
        from pytorch_fid.inception import InceptionV3

        self.path, self.sha256, self.resize = path, sha256, check_filter(resize)
        self.route = route or extraction_route(device)
        with _local_weights(state):
            self.net = (
                InceptionV3(
                    [InceptionV3.BLOCK_INDEX_BY_DIM[2048]],
                    resize_input=resize == "legacy",
                    normalize_input=True,
                    use_fid_inception=True,
                )
                .to(device)
                .eval()
            )
        self.route.prepare(self.net)
        self.fc = nn.Linear(2048, 1008).to(device).eval()
        self.fc.load_state_dict({"weight": state["fc.weight"], "bias": state["fc.bias"]})
        self.device = device
        # Small batches stay in a CPU's caches (measured on 2 cores: 30 images/s at 8-16,
        # 26 at 32, 23 at 50); a GPU wants large ones.
        self.batch_size = batch_size or (100 if torch.device(device).type == "cuda" else 16)

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> Features:
        feats, logps = [], []
        for batch in _batched(images, self.batch_size):
            x = batch.to(self.device).float().div(255.0)
            if x.shape[1] == 1:
                x = x.expand(-1, 3, -1, -1)
            if self.resize == "clean":
                x = resize_images(x, INCEPTION_SIZE, "clean")
            with self.route.autocast(self.device):
                pool = self.net(self.route.input(x))[0].flatten(1).float()
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
    explicit: str | None = None,
    download: bool = False,
    verify: bool = True,
    device: str = "cpu",
    route: Route | None = None,
    resize: ResizeFilter = "clean",
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
        return InceptionExtractor(state, device, path=path, sha256=digest, route=route, resize=resize)
    except Exception as exc:  # a damaged or foreign file
        return Unavailable("inception", f"{path} could not be loaded as Inception weights ({exc})")
