"""Adversarial systems as plugins: each kind (`gan`, `semi_supervised`, `pix2pix`,
`cyclegan`) is one module implementing `kind.SystemKind` and the trainer's contract
(`ganforge.train.contract`), registered in `registry.SYSTEMS`, with its options dataclass (a subclass of
`ganforge.variants.system_options.SystemOptions`) in its own module; the registry derives the
options table from the kinds. This file imports nothing."""
