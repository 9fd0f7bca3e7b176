"""Adaptive discriminator augmentation's controller (Karras et al. 2020): the augmentation
probability p rises while the discriminator is too sure of the reals (the mean sign of its
outputs on them, r_t, above the target) and falls otherwise. p, and the sums it is computed
from, are training state: they go into every checkpoint, so a resumed run goes on with the
p it had (StyleGAN2-ADA's resume starts again from p = 0)."""

from __future__ import annotations

from typing import Any

import torch

from ganforge.augment.config import AugmentConfig


class AdaController:
    """p and the running sum of sign(D(x_real)) since its last update."""

    def __init__(self, cfg: AugmentConfig) -> None:
        self.cfg = cfg
        self.p = float(cfg.ada_p)
        self.signs: torch.Tensor | None = None
        self.outputs = 0
        self.images = 0

    def observe(self, real_logits: torch.Tensor, images: int) -> None:
        """Fold in D's outputs on `images` real images (no device sync)."""
        total = torch.sign(real_logits.detach().float()).sum()
        self.signs = total if self.signs is None else self.signs + total
        self.outputs += real_logits.numel()
        self.images += images

    def update(self) -> dict[str, torch.Tensor]:
        """Move p by sign(r_t - target) × (images seen / (ada_kimg × 1000)), clamped to
        [0, 1], and start the next interval; p and r_t for the logs."""
        if self.signs is None or self.outputs == 0:
            return {"ada_p": torch.tensor(self.p)}
        rt = float(self.signs) / self.outputs
        step = self.images / (self.cfg.ada_kimg * 1000.0)
        direction = 1.0 if rt > self.cfg.ada_target else -1.0 if rt < self.cfg.ada_target else 0.0
        self.p = min(1.0, max(0.0, self.p + direction * step))
        self.signs, self.outputs, self.images = None, 0, 0
        return {"ada_p": torch.tensor(self.p), "ada_rt": torch.tensor(rt)}

    def state_dict(self) -> dict[str, Any]:
        signs = None if self.signs is None else self.signs.detach().cpu().clone()
        return {"p": self.p, "signs": signs, "outputs": self.outputs, "images": self.images}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        self.p = float(state["p"])
        self.signs = None if state["signs"] is None else state["signs"].to(device)
        self.outputs, self.images = int(state["outputs"]), int(state["images"])
