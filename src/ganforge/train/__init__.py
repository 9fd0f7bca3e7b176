"""The training engine: one loop (`loop.Trainer`) for every adversarial system, its batches,
schedule, EMA, checkpoints and random sources. This file imports nothing, so reading a config
type does not load the engine."""
