"""The training engine: one loop (`loop.Trainer`) for every adversarial system, the contract
it drives (`contract`), its schedule, EMA, checkpoints and data parallelism. This file imports
nothing, so reading a config type does not load the engine."""
