"""What the image-to-image systems (`pix2pix`, `cyclegan`) share: their data (the two
domains brought to the variant's size, split into the training part, the validation pairs
that the scores during training read, and the held-out part that the final scores read;
neither of the last two is trained on), the pix2pix/CycleGAN augmentation, the translations
the sample stage stores (every held-out input of every direction, and the cycle
reconstructions), and their figure (rows of input | output | target for a fixed held-out
batch)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.core.errors import ConfigError
from ganforge.core.images import fit_images, to_channels, to_model_input, to_uint8, unfit_images
from ganforge.core.sharding import Shard
from ganforge.data.prepared import PreparedDataset, domain_labels, heldout_masks, true_translation
from ganforge.losses import AdversarialLoss
from ganforge.sampling import EVAL_SEED, VALIDATION_SEED, SampleConfig
from ganforge.systems.kind import Nets, RunContext, SystemKind
from ganforge.variants import Variant
from ganforge.viz import save_translation_rows

DIRECTIONS = {"a2b": ("a", "b"), "b2a": ("b", "a")}


VALIDATION_SPLIT_SEED = 9_000_011  # which training examples a run keeps aside to score on


def check_jitter(jitter: float) -> None:
    """A translation system's `jitter` (the enlargement before a random crop) is a fraction."""
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"jitter must be between 0 and 1, got {jitter}")


@dataclass
class Domain:
    """One domain's images at the training size (uint8), its held-out mask (the test part)
    and its validation mask (kept from training for the scores during training)."""

    images: torch.Tensor
    heldout: torch.Tensor
    validation: torch.Tensor

    @property
    def trained(self) -> torch.Tensor:
        """The mask of the examples trained on."""
        return ~self.heldout & ~self.validation

    @property
    def train(self) -> torch.Tensor:
        return self.images[self.trained]


def _pick(candidates: torch.Tensor, count: int, seed: int) -> torch.Tensor:
    """A seeded choice of `count` of the True positions of `candidates`, as a mask."""
    idx = candidates.nonzero().flatten()
    order = torch.randperm(len(idx), generator=torch.Generator().manual_seed(seed))
    mask = torch.zeros_like(candidates)
    mask[idx[order[:count]]] = True
    return mask


def split_masks(variant: Variant, data: PreparedDataset) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Each domain's (held-out, validation) masks. A run scored during training keeps
    `train.eval_samples` training examples of each domain aside (one set of pairs for a
    paired set), never trained on and never the held-out test part; otherwise none."""
    heldout = heldout_masks(data)
    count = variant.train.eval_samples if variant.train.eval_every else 0
    where = f"variants.{variant.name}.train.eval_samples"
    out = {}
    for offset, side in enumerate(("a", "b")):
        available = int((~heldout[side]).sum())
        if count and count >= available:
            raise ConfigError(
                f"{where}: {count} validation examples leave none of the {available} training "
                f"examples of {data.name}'s domain {side} to train on; lower it"
            )
        paired = data.kind == "paired"
        seed = VALIDATION_SPLIT_SEED + (0 if paired else offset)
        out[side] = (heldout[side], _pick(~heldout[side], count, seed))
    return out


def domains(variant: Variant, data: PreparedDataset) -> tuple[dict[str, Domain], int]:
    """Both domains fitted to the variant's `image_size` (default: the dataset's), and the size."""
    size = variant.image_size or int(data.tensors["a"].shape[-1])
    masks = split_masks(variant, data)
    out = {side: Domain(fit_images(data.tensors[side], size), *masks[side]) for side in ("a", "b")}
    for side, dom in out.items():
        if int(dom.trained.sum()) == 0:
            raise ConfigError(
                f"dataset {data.name!r}: every image of domain {side} is held out; lower holdout"
            )
    return out, size


def augment(
    tensors: Mapping[str, torch.Tensor],
    jitter: float,
    flip: bool,
    generator: torch.Generator,
    shard: Shard | None = None,
) -> dict[str, torch.Tensor]:
    """The same random jitter (enlarge by `jitter`, crop back at a random place) and the same
    random horizontal flip for every tensor of the mapping (N×C×H×W, aligned), per example
    (drawn for the global batch and sliced by `shard` under data parallelism)."""
    shard = shard or Shard()
    first = next(iter(tensors.values()))
    n, size = first.shape[0], first.shape[-1]
    total = n * shard.world
    out = dict(tensors)
    if jitter > 0:
        big = round(size * (1 + jitter))
        offsets = shard.take(torch.randint(0, big - size + 1, (total, 2), generator=generator)).tolist()
        for key, x in out.items():
            up = F.interpolate(x, size=(big, big), mode="bilinear", align_corners=False)
            out[key] = torch.stack([up[i, :, t : t + size, s : s + size] for i, (t, s) in enumerate(offsets)])
    if flip:
        mirrored = shard.take(torch.rand(total, generator=generator) < 0.5).to(first.device).view(n, 1, 1, 1)
        out = {k: torch.where(mirrored, x.flip(-1), x) for k, x in out.items()}
    return out


TRAIN_MODE_SEED = 61_000_007  # dropout's draws when translating in train mode


@torch.no_grad()
def translate(
    net: nn.Module, images: torch.Tensor, channels: int, batch_size: int = 200, mode: str = "eval"
) -> torch.Tensor:
    """uint8 images through a translator (batched, on its device) → uint8 outputs with the
    net's own channel count; inputs are brought to `channels` first. `mode` "eval" turns
    dropout off and uses batch norm's running statistics; "train" keeps dropout on (drawn from
    a fixed seed, so a translation repeats) and normalises each batch by its own statistics
    (which the running statistics are left untouched by)."""
    device = next(net.parameters()).device
    was_training = net.training
    running = {k: v.clone() for k, v in net.state_dict().items() if "running_" in k or "num_batches" in k}
    net.train(mode == "train")
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(TRAIN_MODE_SEED)
            out = [
                to_uint8(net(to_model_input(to_channels(chunk, channels).to(device))))
                for chunk in images.split(batch_size)
            ]
    finally:
        if mode == "train":  # batch norm updated its running statistics: put them back
            net.load_state_dict(running, strict=False)
        net.train(was_training)
    return torch.cat(out)


class TranslationKind(SystemKind):
    """A kind whose generators translate between domains a and b. `routes` gives, for each
    direction it translates, the generator that does it (and the one that translates back,
    for cycle reconstructions); `sampling` the mode its generators translate in."""

    data_kinds: tuple[str, ...] = ("paired", "unpaired")

    def produces(self, spec: Mapping[str, Any]) -> str:
        return "translations"

    def sampling(self, variant: Variant) -> str:
        """The mode its generators translate in (see `translate`): eval unless the variant's
        system options say otherwise."""
        return str(getattr(variant.system, "sampling", "eval"))

    def translate(
        self, nets: Nets, variant: Variant, spec: Mapping[str, Any], images: torch.Tensor, direction: str
    ) -> torch.Tensor:
        routes = self.routes(variant)
        if direction not in routes:
            raise ConfigError(f"{variant.name} translates {', '.join(routes)}, not {direction!r}")
        src = DIRECTIONS[direction][0]
        inputs = to_channels(fit_images(images, int(spec["size"])), int(spec["model_channels"][src]))
        return translate(nets[routes[direction][0]], inputs, inputs.shape[1], mode=self.sampling(variant))

    def _heldout(
        self, run: RunContext, side: str, size: int, part: str = "test"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Indices and (training-size) images of a domain's held-out (`test`) part, or of the
        `validation` examples the run keeps aside for its scores during training."""
        heldout, validation = split_masks(run.variant, run.data)[side]
        idx = (validation if part == "validation" else heldout).nonzero().flatten()
        return idx, fit_images(run.data.tensors[side][idx], size)

    def _native(self, images: torch.Tensor, side: str, run: RunContext) -> torch.Tensor:
        """Outputs brought back to the dataset's own size and the domain's channels."""
        native = run.data.tensors[side]
        return to_channels(unfit_images(images, int(native.shape[-1])), int(native.shape[1]))

    def draw(
        self, nets: Mapping[str, Nets], run: RunContext, cfg: SampleConfig, seed: int, stream: int = EVAL_SEED
    ) -> dict[str, Any]:
        """The held-out pairs translated (no latents: `seed` is not used); with the validation
        `stream`, the run's validation examples instead, with their true translations and
        labels where the set has them (the test pairs' are in the evaluator)."""
        size, channels = run.spec["size"], run.spec["model_channels"]
        mode = self.sampling(run.variant)
        part = "validation" if stream == VALIDATION_SEED else "test"
        directions: dict[str, Any] = {}
        for direction, (forward, backward) in self.routes(run.variant).items():
            src, dst = DIRECTIONS[direction]
            idx, inputs = self._heldout(run, src, size, part)
            block: dict[str, Any] = {"indices": idx, "source": src, "target": dst, "outputs": {}, "cycle": {}}
            if part == "validation":
                labels = domain_labels(run.data)[src]
                block["targets"] = true_translation(run.data, src, idx)
                block["source_labels"] = labels[idx] if labels is not None else None
            for which, generators in nets.items():
                out = translate(generators[forward], inputs, channels[src], mode=mode)
                block["outputs"][which] = self._native(out, dst, run)
                if backward is not None:
                    back = translate(generators[backward], out, channels[dst], mode=mode)
                    block["cycle"][which] = self._native(back, src, run)
            directions[direction] = block
        return {"kind": "translations", "directions": directions, "image_size": size, "sampling": mode}

    def figures(
        self,
        nets: Nets,
        run: RunContext,
        cfg: SampleConfig,
        folder: Path,
        title: str,
        suffix: str = "",
        main_only: bool = False,
    ) -> list[Path]:
        size, channels = run.spec["size"], run.spec["model_channels"]
        mode = self.sampling(run.variant)
        panels = []
        for direction, (forward, backward) in self.routes(run.variant).items():
            src, dst = DIRECTIONS[direction]
            idx, inputs = self._heldout(run, src, size)
            idx, inputs = idx[: cfg.grid], inputs[: cfg.grid]
            out = translate(nets[forward], inputs, channels[src], mode=mode)
            columns = {f"input ({src})": inputs, f"output ({dst})": out}
            target = true_translation(run.data, src, idx)
            if target is not None:
                columns[f"target ({dst})"] = fit_images(target, size)
            if backward is not None:
                columns[f"back to {src}"] = translate(nets[backward], out, channels[dst], mode=mode)
            panels.append((direction, columns))
        return [save_translation_rows(panels, folder / f"translations{suffix}.png", title)]


def model_channels(data: PreparedDataset, same: bool) -> dict[str, int]:
    """The channels each domain's images have inside the nets: their own, or (when the system
    needs both domains alike, for the identity loss) the larger count for both, gray images
    replicated to RGB as the reference loads them."""
    own = {side: int(data.tensors[side].shape[1]) for side in ("a", "b")}
    if not same:
        return own
    top = max(own.values())
    return {side: top for side in own}


# -- the objectives (pure functions of logits and images, tested against hand computations) --
def l1(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference (images in [-1, 1])."""
    return (output.float() - target.float()).abs().mean()


def halved_discriminator_loss(
    loss: AdversarialLoss, real: torch.Tensor, fake: torch.Tensor, real_label: float = 1.0
) -> torch.Tensor:
    """D's loss on real and generated patches, halved (so D learns at half G's pace)."""
    return 0.5 * loss.discriminator(real, fake, real_label)


def pix2pix_generator_loss(
    loss: AdversarialLoss,
    fake_logits: torch.Tensor | None,
    fake: torch.Tensor,
    target: torch.Tensor,
    l1_weight: float,
    gan_weight: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """gan_weight·adversarial (when there is a D) + l1_weight·L1 to the target."""
    distance = l1(fake, target)
    total = l1_weight * distance
    parts = {"l1": distance}
    if fake_logits is not None and gan_weight:
        adversarial = loss.generator(fake_logits.float())
        total = total + gan_weight * adversarial
        parts["g_gan"] = adversarial
    return total, parts


def cyclegan_generator_loss(
    loss: AdversarialLoss,
    logits: tuple[torch.Tensor, torch.Tensor],
    cycles: tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    identities: tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None,
    gan_weight: float,
    cycle_weight: float,
    identity_weight: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """gan_weight·(adversarial a→b + b→a) + λ·(|F(G(a)) − a| + |G(F(b)) − b|)
    + identity_weight·λ·(|G(b) − b| + |F(a) − a|). `logits`: D_b on G(a), D_a on F(b);
    `cycles` and `identities`: (output, what it should equal) pairs."""
    adversarial = loss.generator(logits[0].float()) + loss.generator(logits[1].float())
    cycle = l1(*cycles[0]) + l1(*cycles[1])
    total = gan_weight * adversarial + cycle_weight * cycle
    parts = {"g_gan": adversarial, "cycle": cycle}
    if identities is not None and identity_weight:
        identity = l1(*identities[0]) + l1(*identities[1])
        total = total + cycle_weight * identity_weight * identity
        parts["identity"] = identity
    return total, parts


def image_batches(
    images: torch.Tensor,
    batches: int,
    batch_size: int,
    generator: torch.Generator,
    channels_last: bool = False,
) -> list[tuple[torch.Tensor | None, ...]]:
    """Batches of training images (uint8 on their device) drawn at random, as net inputs."""
    out: list[tuple[torch.Tensor | None, ...]] = []
    for _ in range(batches):
        idx = torch.randint(0, len(images), (min(batch_size, len(images)),), generator=generator)
        out.append((to_model_input(images[idx.to(images.device)], channels_last),))
    return out
