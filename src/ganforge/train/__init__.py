"""The training engine: one loop for every adversarial system."""

from ganforge.train.batches import Batch, BatchSampler, fit_images, to_uint8
from ganforge.train.config import TrainConfig
from ganforge.train.loop import Hooks, Trainer, TrainResult
from ganforge.train.rng import RunRandom
from ganforge.train.system import AdversarialSystem, GanSystem, Phase

__all__ = [
    "AdversarialSystem",
    "Batch",
    "BatchSampler",
    "GanSystem",
    "Hooks",
    "Phase",
    "RunRandom",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "fit_images",
    "to_uint8",
]
