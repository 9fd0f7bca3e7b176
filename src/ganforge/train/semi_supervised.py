"""The semi-supervised GAN of Salimans et al.: a (K+1)-class discriminator (K real classes and
"fake", with the fake logit fixed at 0), trained on a small labelled subset and the unlabelled
rest, the generator trained by feature matching; and the baseline it is judged against, the
same network trained as a plain classifier on the same labels."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.nets.base import Discriminator, Generator
from ganforge.regularizers import feature_matching
from ganforge.train.batches import Batch, BatchSampler
from ganforge.train.config import TrainConfig
from ganforge.train.system import Phase, autocast, grad_norm, make_optimizer, make_optimizers


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
            raise ValueError(
                f"class {c} has {len(pool)} training examples, fewer than the {take} labels asked for"
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


class SemiSupervisedSystem:
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
    ) -> None:
        self.g = generator.to(device)
        self.d = class_head(discriminator.to(device), classes)
        self.labelled = labelled
        self.cfg, self.device, self.noise, self.amp_dtype = cfg, device, noise, amp_dtype
        self._fake: torch.Tensor | None = None
        self.modules = {"generator": self.g, "discriminator": self.d}
        self.optimizers = make_optimizers(self.g, self.d, cfg)

    @property
    def generator(self) -> Generator:
        return self.g

    def schedule(self) -> list[Phase]:
        return [Phase("discriminator", self.cfg.d_steps), Phase("generator", 1, draws_batch=False)]

    def _autocast(self) -> contextlib.AbstractContextManager[None]:
        return autocast(self.device, self.amp_dtype)

    def step(self, phase: str, batch: Batch, diagnose: bool) -> dict[str, torch.Tensor]:
        if phase == "discriminator":
            return self._discriminator_step(batch, diagnose)
        if phase == "generator":
            return self._generator_step(batch, diagnose)
        raise ValueError(f"unknown phase {phase!r}")

    def _discriminator_step(self, batch: Batch, diagnose: bool) -> dict[str, torch.Tensor]:
        z = torch.randn(len(batch), self.g.latent_dim, generator=self.noise, device=self.device)
        labelled = self.labelled.next()
        with self._autocast():
            fake = self.g(z)
            self._fake = fake if self.cfg.d_steps == 1 else None
            supervised = F.cross_entropy(self.d(labelled.x).float(), labelled.labels)
            real = torch.logsumexp(self.d(batch.x).float(), dim=1)
            generated = torch.logsumexp(self.d(fake.detach()).float(), dim=1)
            # -log D(x) = softplus(lse) - lse; -log(1 - D(G(z))) = softplus(lse)
            unsupervised = (F.softplus(real) - real).mean() + F.softplus(generated).mean()
            loss = supervised + unsupervised
        opt = self.optimizers["discriminator"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        out = {"d_loss": loss.detach(), "supervised_loss": supervised.detach()}
        if diagnose:
            out.update(
                {
                    "d_real": torch.sigmoid(real.detach()).mean(),
                    "d_fake": torch.sigmoid(generated.detach()).mean(),
                    "grad_norm_d": grad_norm(self.d),
                }
            )
        opt.step()
        return out

    def _generator_step(self, batch: Batch, diagnose: bool) -> dict[str, torch.Tensor]:
        fake, self._fake = self._fake, None
        self.d.requires_grad_(False)
        try:
            with self._autocast():
                if fake is None:
                    fake = self.g(
                        torch.randn(len(batch), self.g.latent_dim, generator=self.noise, device=self.device)
                    )
                loss = feature_matching(self.d.features(batch.x).float(), self.d.features(fake).float())
            opt = self.optimizers["generator"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
        finally:
            self.d.requires_grad_(True)
        out = {"g_loss": loss.detach()}
        if diagnose:
            out["grad_norm_g"] = grad_norm(self.g)
        opt.step()
        return out

    def extra_state(self) -> dict[str, Any]:
        return {"labelled": self.labelled.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.labelled.load_state_dict(state["labelled"])


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
        images, labels, min(cfg.batch_size, len(images)), torch.Generator().manual_seed(seed), device
    )
    model.train()
    for _ in range(steps):
        batch = sampler.next()
        loss = F.cross_entropy(model(batch.x), batch.labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()
