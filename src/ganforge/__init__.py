"""ganforge: a reproducible GAN laboratory (library layer: knows nothing of DVC or params.yaml)."""

__version__ = "0.1.0"
