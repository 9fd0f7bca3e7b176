"""Adversarial systems as plugins: each kind (`gan`, `semi_supervised`, `pix2pix`,
`cyclegan`) is one module implementing `kind.SystemKind`, registered in `registry.SYSTEMS`;
its options are a dataclass in `options` (importable without torch). This file imports
nothing."""
