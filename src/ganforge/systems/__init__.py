"""Adversarial systems as plugins: each kind (`gan`, `semi_supervised`, `pix2pix`,
`cyclegan`) is one module implementing `kind.SystemKind` and the trainer's contract
(`ganforge.train.contract`), registered in `registry.SYSTEMS`; its options are a dataclass in
`ganforge.variants.system_options` (importable without torch). This file imports nothing."""
