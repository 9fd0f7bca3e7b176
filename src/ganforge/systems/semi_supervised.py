"""`semi_supervised`: the semi-supervised GAN of Salimans et al. A (K+1)-class discriminator
(K real classes and "fake", with the fake logit fixed at 0), trained on a small labelled
subset and the unlabelled rest, the generator trained by feature matching. Its run-level
score is the discriminator's test-set classification error, against the baseline: the same
network trained as a plain classifier on the same labels."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.core.batches import Batch, BatchSampler
from ganforge.core.errors import ConfigError
from ganforge.nets.base import Discriminator, Generator
from ganforge.nets.registry import build_discriminator, build_generator
from ganforge.regularizers import feature_matching
from ganforge.systems.kind import Built, RunSetup
from ganforge.systems.latent import LatentKind, PairSystem, latent_data, latent_spec
from ganforge.train.config import TrainConfig
from ganforge.train.contract import autocast, d_outputs, frozen, grad_norm, make_optimizer, to_channels_last
from ganforge.variants.system_options import SystemOptions


@dataclass(frozen=True)
class SemiSupervisedOptions(SystemOptions):
    """The semi-supervised GAN: the discriminator becomes a K-class classifier trained on
    `labelled` labels (balanced over classes); `test_fraction` of the dataset is held out to
    measure its error, and the same network trained as a plain classifier on the same labels
    for `baseline_steps` is the baseline."""

    train_options: ClassVar[frozenset[str]] = frozenset({"d_steps"})  # its own loss, G by feature matching
    kind: Literal["semi_supervised"] = "semi_supervised"
    labelled: int = 100
    test_fraction: float = 0.2
    baseline_steps: int = 1000

    def __post_init__(self) -> None:
        if self.labelled < 1 or self.baseline_steps < 1 or not 0.0 < self.test_fraction < 1.0:
            raise ValueError("labelled and baseline_steps must be positive, test_fraction in (0, 1)")


def semi_supervised_split(
    labels: torch.Tensor, labelled: int, test_fraction: float, seed: int, split_seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train, labelled, test) indices. The test part (`test_fraction`, drawn with
    `split_seed`, the same for every run) is never trained on; the labelled part is
    `labelled` training examples balanced over the classes, drawn with the run's `seed`."""
    n = len(labels)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(split_seed))
    n_test = max(1, round(n * test_fraction))
    test, train = perm[:n_test].sort().values, perm[n_test:].sort().values
    classes = int(labels.max()) + 1
    per_class, extra = divmod(labelled, classes)
    gen = torch.Generator().manual_seed(seed)
    chosen = []
    for c in range(classes):
        pool = train[labels[train] == c]
        take = per_class + (1 if c < extra else 0)
        if len(pool) < take:
            raise ConfigError(
                f"class {c} has {len(pool)} training examples, fewer than the {take} labels asked for: "
                f"lower system.labelled"
            )
        chosen.append(pool[torch.randperm(len(pool), generator=gen)[:take]])
    return train, torch.cat(chosen).sort().values, test


def class_head(discriminator: Discriminator, classes: int) -> Discriminator:
    """Turn a one-logit discriminator into a K-logit classifier (the K real classes): its
    forward then returns N×K logits."""
    discriminator.head = nn.Linear(discriminator.head.in_features, classes).to(
        next(discriminator.parameters()).device
    )
    return discriminator


class SemiSupervisedSystem(PairSystem):
    """K-class discriminator + generator. D's loss: cross-entropy on a labelled batch, plus
    -log D(x) on unlabelled data and -log(1 - D(G(z))) on generated data, where
    D(x) = Z(x) / (Z(x) + 1) and Z(x) = Σₖ exp lₖ(x). G's loss: feature matching."""

    def __init__(
        self,
        generator: Generator,
        discriminator: Discriminator,
        classes: int,
        labelled: BatchSampler,
        cfg: TrainConfig,
        device: torch.device,
        noise: torch.Generator,
        amp_dtype: torch.dtype | None = None,
        evaluate: Callable[[Discriminator], dict[str, Any]] | None = None,
    ) -> None:
        g = generator.to(device)
        super().__init__(g, class_head(discriminator.to(device), classes), cfg, device, noise, amp_dtype)
        self.labelled = labelled
        self.evaluate = evaluate

    def discriminator_step(self, batch: Batch, at: int, diagnose: bool) -> dict[str, torch.Tensor]:
        z = self.latent(len(batch))
        labelled = self.labelled.next()
        with autocast(self.device, self.amp_dtype):
            fake = self.g(z)
            self._fake = fake if self.cfg.d_steps == 1 else None
            supervised = F.cross_entropy(self.d(labelled["x"]).float(), labelled["labels"])
            real = torch.logsumexp(self.d(batch["x"]).float(), dim=1)
            generated = torch.logsumexp(self.d(fake.detach()).float(), dim=1)
            # -log D(x) = softplus(lse) - lse; -log(1 - D(G(z))) = softplus(lse)
            unsupervised = (F.softplus(real) - real).mean() + F.softplus(generated).mean()
            loss = supervised + unsupervised
        opt = self.optimizers["discriminator"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        out = {"d_loss": loss.detach(), "supervised_loss": supervised.detach()}
        if diagnose:
            out.update({**d_outputs(real, generated, True), "grad_norm_d": grad_norm(self.d)})
        opt.step()
        return out

    def generator_step(self, batch: Batch, at: int, diagnose: bool) -> dict[str, torch.Tensor]:
        fake, self._fake = self._fake, None
        with frozen(self.d):
            with autocast(self.device, self.amp_dtype):
                if fake is None:
                    fake = self.g(self.latent(len(batch)))
                loss = feature_matching(self.d.features(batch["x"]).float(), self.d.features(fake).float())
            opt = self.optimizers["generator"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
        out = {"g_loss": loss.detach()}
        if diagnose:
            out["grad_norm_g"] = grad_norm(self.g)
        opt.step()
        return out

    def extra_state(self) -> dict[str, Any]:
        return {"labelled": self.labelled.state_dict()}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.labelled.load_state_dict(state["labelled"])

    def run_scores(self, averaged: Mapping[str, nn.Module]) -> dict[str, Any]:
        return self.evaluate(self.d) if self.evaluate is not None else {}


class SemiSupervisedKind(LatentKind):
    name = "semi_supervised"
    options = SemiSupervisedOptions
    data_kinds = ("images",)

    def build(self, setup: RunSetup) -> Built:
        variant, data, placement, seed = setup.variant, setup.data, setup.placement, setup.seed
        options: SemiSupervisedOptions = variant.system  # type: ignore[assignment]
        self.check_data(variant, data)
        labels = data.labels
        if labels is None:
            raise ConfigError(
                f"variant {variant.name}: the semi-supervised GAN needs a labelled image dataset"
            )
        tensors = latent_data(variant, data, 0)
        x, cfg, device, classes = tensors.x, variant.train, placement.device, len(data.class_names)
        g = build_generator(variant.model, tensors.shape)
        d = build_discriminator(variant.model, tensors.shape)
        to_channels_last(placement.channels_last, g, d)
        train_idx, labelled_idx, test_idx = semi_supervised_split(
            labels, options.labelled, options.test_fraction, seed
        )
        labelled = BatchSampler(
            {"x": x[labelled_idx], "labels": labels[labelled_idx]},
            min(cfg.batch_size, len(labelled_idx)),
            torch.Generator().manual_seed(seed + 7),
            device,
        )

        def evaluate(trained: Discriminator) -> dict[str, Any]:
            test_x, test_y = x[test_idx], labels[test_idx]
            baseline = train_baseline(
                lambda: build_discriminator(variant.model, tensors.shape),
                classes,
                x[labelled_idx],
                labels[labelled_idx],
                options.baseline_steps,
                cfg,
                seed,
                device,
            )
            return {
                "semi_supervised": {
                    "labelled": len(labelled_idx),
                    "unlabelled": len(train_idx),
                    "test_examples": len(test_idx),
                    "test_error": classification_error(trained, test_x, test_y),
                    "baseline_test_error": classification_error(baseline, test_x, test_y),
                    "baseline_steps": options.baseline_steps,
                }
            }

        system = SemiSupervisedSystem(
            g, d, classes, labelled, cfg, device, setup.random.noise, placement.amp_dtype, evaluate
        )
        sampler = BatchSampler({"x": x[train_idx]}, cfg.batch_size, setup.random.data, device)
        return Built(system, sampler, latent_spec(tensors.shape, data))


@torch.no_grad()
def classification_error(
    d: Discriminator, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500
) -> float:
    """Fraction of (uint8) images the K-class discriminator gets wrong."""
    was_training = d.training
    d.eval()
    device = next(d.parameters()).device
    wrong = 0
    for i in range(0, len(images), batch_size):
        x = images[i : i + batch_size].to(device).float().mul(2.0 / 255.0).sub(1.0)
        wrong += int((d(x).argmax(1).cpu() != labels[i : i + batch_size]).sum())
    d.train(was_training)
    return wrong / max(len(images), 1)


def train_baseline(
    make_classifier: Callable[[], Discriminator],
    classes: int,
    images: torch.Tensor,
    labels: torch.Tensor,
    steps: int,
    cfg: TrainConfig,
    seed: int,
    device: torch.device,
) -> Discriminator:
    """The same network as a plain classifier on the labelled examples only (cross-entropy)."""
    torch.manual_seed(seed)
    model = class_head(make_classifier().to(device), classes)
    opt = make_optimizer(list(model.parameters()), cfg.discriminator_lr, cfg)
    sampler = BatchSampler(
        {"x": images, "labels": labels},
        min(cfg.batch_size, len(images)),
        torch.Generator().manual_seed(seed),
        device,
    )
    model.train()
    for _ in range(steps):
        batch = sampler.next()
        loss = F.cross_entropy(model(batch["x"]), batch["labels"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()
