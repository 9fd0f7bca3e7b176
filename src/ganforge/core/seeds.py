"""Every random source of a run, seeded from one seed and saved in checkpoints."""

from __future__ import annotations

from typing import Any

import torch

RANK_STRIDE = 7_919  # between the global seeds of two ranks


class RunRandom:
    """Named generators (data order, latent noise) plus torch's global generators, which
    dropout and other layers draw from."""

    def __init__(self, seed: int, device: torch.device, rank: int = 0) -> None:
        torch.manual_seed(seed)  # the global generators: network initialisation draws from them
        self.seed = seed
        self.rank = rank
        self.data = torch.Generator().manual_seed(seed)
        self.noise = torch.Generator(device=device).manual_seed(seed + 1_000_003)
        self.device = device

    def begin(self) -> None:
        """Reseed the global generators for training (dropout draws from them), so a run does
        not depend on what else used them between initialisation and training. Each process
        of a data-parallel run gets its own stream (rank 0 the one a single process gets), so
        replicas do not drop out the same units of different examples."""
        torch.manual_seed(self.seed + 2_000_003 + RANK_STRIDE * self.rank)

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "global": torch.get_rng_state(),
            "data": self.data.get_state(),
            "noise": self.noise.get_state(),
        }
        if self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        torch.set_rng_state(state["global"])
        self.data.set_state(state["data"])
        self.noise.set_state(state["noise"])
        if "cuda" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(state["cuda"])
