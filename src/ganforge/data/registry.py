"""Data sources by name: params.yaml says `source: mnist` and this registry finds its config
type and builder. Derived sources read other prepared datasets instead of raw files."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from ganforge.core.config import from_dict
from ganforge.core.errors import ConfigError, unknown_name
from ganforge.data.anime import AnimeConfig, anime_needs, load_anime
from ganforge.data.archives import ArchiveConfig, cyclegan_needs, load_cyclegan, load_pix2pix, pix2pix_needs
from ganforge.data.celeba import CelebaConfig, celeba_missing, load_celeba
from ganforge.data.cifar import CifarConfig, cifar_needs, load_cifar
from ganforge.data.fetch import RawNeed, SourceContext, missing_lines
from ganforge.data.folder import FolderConfig, folder_missing, load_folder
from ganforge.data.mnist import MnistConfig, load_mnist_family, mnist_needs
from ganforge.data.pairs import (
    PairedFolderConfig,
    UnpairedFoldersConfig,
    load_paired_folder,
    load_unpaired_folders,
)
from ganforge.data.prepared import PreparedDataset
from ganforge.data.stacked import StackedConfig, make_stacked
from ganforge.data.subset import SubsetConfig, make_subset
from ganforge.data.toy2d import Toy2DConfig, make_toy2d
from ganforge.data.translation import EdgesConfig, RecolorConfig, make_edges, make_recolor


@dataclass(frozen=True)
class Source:
    config: type
    build: Callable[[Any, SourceContext], PreparedDataset]
    derived: bool = False
    """True when the source reads another prepared dataset (named by `from_dataset`)."""
    needs: Callable[[Any], list[RawNeed]] | None = None
    """The raw files it reads (from the mirror, the download cache or the network)."""
    present: Callable[[Any, SourceContext], list[str]] | None = None
    """A line for each local input (a folder) that is not there."""


SOURCES: Mapping[str, Source] = {
    "mnist": Source(MnistConfig, partial(load_mnist_family, "mnist"), needs=partial(mnist_needs, "mnist")),
    "fashion_mnist": Source(
        MnistConfig, partial(load_mnist_family, "fashion_mnist"), needs=partial(mnist_needs, "fashion_mnist")
    ),
    "kaggle_anime": Source(AnimeConfig, load_anime, needs=anime_needs),
    "cifar10": Source(CifarConfig, partial(load_cifar, "cifar10"), needs=partial(cifar_needs, "cifar10")),
    "cifar100": Source(CifarConfig, partial(load_cifar, "cifar100"), needs=partial(cifar_needs, "cifar100")),
    "celeba": Source(CelebaConfig, load_celeba, present=celeba_missing),
    "folder": Source(FolderConfig, load_folder, present=folder_missing),
    "toy2d": Source(Toy2DConfig, make_toy2d),
    "pix2pix": Source(ArchiveConfig, load_pix2pix, needs=pix2pix_needs),
    "cyclegan": Source(ArchiveConfig, load_cyclegan, needs=cyclegan_needs),
    "paired_folder": Source(PairedFolderConfig, load_paired_folder),
    "unpaired_folders": Source(UnpairedFoldersConfig, load_unpaired_folders),
    "edges": Source(EdgesConfig, make_edges, derived=True),
    "recolor": Source(RecolorConfig, make_recolor, derived=True),
    "stacked": Source(StackedConfig, make_stacked, derived=True),
    "subset": Source(SubsetConfig, make_subset, derived=True),
}


def get_source(name: str) -> Source:
    if name not in SOURCES:
        raise unknown_name("data source", name, list(SOURCES))
    return SOURCES[name]


def parse_dataset(spec: Mapping[str, Any], where: str) -> tuple[Source, Any]:
    """Split a dataset's params (`source:` plus that source's options) into the source and
    its typed config."""
    options = dict(spec)
    source_name = options.pop("source", None)
    if not isinstance(source_name, str):
        raise ConfigError(f"{where}: needs `source:`, one of {', '.join(sorted(SOURCES))}")
    source = get_source(source_name)
    return source, from_dict(source.config, options, where)


def build_dataset(spec: Mapping[str, Any], ctx: SourceContext) -> PreparedDataset:
    """Prepare one dataset from its params."""
    source, cfg = parse_dataset(spec, f"datasets.{ctx.name}")
    return source.build(cfg, ctx)


def missing_inputs(spec: Mapping[str, Any], ctx: SourceContext) -> list[str]:
    """A line for each input of a dataset that is not at hand: its local folders always, its raw
    files when the network is off (when on, a download may still find them)."""
    source, cfg = parse_dataset(spec, f"datasets.{ctx.name}")
    lines = source.present(cfg, ctx) if source.present else []
    if source.needs is not None and ctx.offline:
        lines += missing_lines(ctx, source.needs(cfg))
    return lines
