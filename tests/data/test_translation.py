import pytest
import torch

from ganforge.core.errors import DataError, MissingDataError
from ganforge.data.prepared import PreparedDataset, save_prepared
from ganforge.data.translation import (
    EdgesConfig,
    RecolorConfig,
    edge_maps,
    make_edges,
    make_recolor,
    recolor,
    uncolor,
)


def square_image(size=32, lo=20, hi=220):
    img = torch.full((1, 3, size, size), lo, dtype=torch.uint8)
    img[:, :, 8:24, 8:24] = hi
    return img


def test_edges_trace_the_outline_of_a_square():
    edges = edge_maps(square_image(), EdgesConfig(from_dataset="x"))[0, 0]
    on = edges == 0
    assert on[8:24, 7:9].any(dim=1).all() and on[8:24, 23:25].any(dim=1).all()  # left and right sides
    assert not on[12:20, 12:20].any()  # the flat inside has no edges
    assert not on[:4, :].any() and not on[:, 28:].any()  # nor the flat outside
    assert set(edges.unique().tolist()) <= {0, 255}


def test_flat_image_has_no_edges():
    flat = torch.full((2, 1, 16, 16), 90, dtype=torch.uint8)
    assert (edge_maps(flat, EdgesConfig(from_dataset="x")) == 255).all()


def test_recolor_round_trip():
    gray = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    fg, bg = (255, 200, 0), (20, 40, 120)
    rgb = recolor(gray, fg, bg)
    assert rgb.shape == (1, 3, 16, 16)
    assert rgb[0, :, 0, 0].tolist() == list(bg) and rgb[0, :, 15, 15].tolist() == list(fg)
    assert (uncolor(rgb, fg, bg).int() - gray.int()).abs().max() <= 1


def _save_source(ctx, name, images, labels=None, classes=()):
    tensors = {"images": images}
    if labels is not None:
        tensors["labels"] = labels
    save_prepared(
        PreparedDataset(name, "images", tensors, list(classes), {"stand_in": True, "stand_in_for": "anime"}),
        ctx.prepared_dir,
    )


def test_recolor_set_uses_disjoint_halves_and_keeps_the_true_mapping(ctx_factory):
    ctx = ctx_factory("digits2color")
    n = 21
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    _save_source(ctx, "digits", images, torch.arange(n) % 3, ["a", "b", "c"])
    ds = make_recolor(RecolorConfig(from_dataset="digits", seed=4), ctx)
    a_ids = set(ds.tensors["a"][:, 0, 0, 0].tolist())
    b_ids = set(ds.tensors["b_to_a"][:, 0, 0, 0].tolist())
    assert len(a_ids) == len(b_ids) == 10 and not a_ids & b_ids
    assert torch.equal(ds.tensors["a_to_b"], recolor(ds.tensors["a"], (255, 200, 0), (20, 40, 120)))
    assert torch.equal(ds.tensors["b"], recolor(ds.tensors["b_to_a"], (255, 200, 0), (20, 40, 120)))
    assert torch.equal(ds.tensors["labels_a"], ds.tensors["a"][:, 0, 0, 0].long() % 3)
    assert ds.meta["counts"] == {"a": 10, "b": 10, "skipped": 1}


def test_edges_set_pairs_each_image_with_its_edges(ctx_factory):
    ctx = ctx_factory("edges2sq")
    _save_source(ctx, "squares", square_image().expand(3, -1, -1, -1).contiguous())
    ds = make_edges(EdgesConfig(from_dataset="squares"), ctx)
    assert ds.kind == "paired" and ds.tensors["a"].shape == (3, 1, 32, 32)
    assert torch.equal(ds.tensors["b"], square_image().expand(3, -1, -1, -1))
    assert ds.meta["stand_in"] is True and ds.meta["derived_from"] == "squares"


def test_recolor_needs_grayscale(ctx_factory):
    ctx = ctx_factory("x")
    _save_source(ctx, "rgb", square_image())
    with pytest.raises(DataError, match="needs a grayscale dataset"):
        make_recolor(RecolorConfig(from_dataset="rgb"), ctx)


def test_missing_source_dataset(ctx_factory):
    with pytest.raises(MissingDataError, match=r"run `dvc repro prepare@nothing`"):
        make_edges(EdgesConfig(from_dataset="nothing"), ctx_factory("x"))


def test_bad_thresholds():
    with pytest.raises(ValueError, match="low <= high"):
        EdgesConfig(from_dataset="x", low=0.5, high=0.2)


def test_translation_sets_hold_out_a_seeded_part_of_each_domain(ctx_factory):
    ctx = ctx_factory("digits2color")
    n = 40
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    _save_source(ctx, "digits", images, torch.arange(n) % 4, ["a", "b", "c", "d"])
    ds = make_recolor(RecolorConfig(from_dataset="digits", holdout=0.25), ctx)
    assert int(ds.tensors["heldout_a"].sum()) == int(ds.tensors["heldout_b"].sum()) == 5
    again = make_recolor(RecolorConfig(from_dataset="digits", holdout=0.25), ctx)
    assert torch.equal(again.tensors["heldout_a"], ds.tensors["heldout_a"])
    assert not torch.equal(ds.tensors["heldout_a"], ds.tensors["heldout_b"])  # drawn apart
    pairs = make_edges(EdgesConfig(from_dataset="digits", holdout=0.1), ctx_factory("edges"))
    assert int(pairs.tensors["heldout"].sum()) == 4 and ds.meta["holdout"] == {"fraction": 0.25, "seed": 0}


def test_heldout_mask_edges():
    from ganforge.data.prepared import heldout_mask

    assert heldout_mask(1, 0.5, 0).tolist() == [False]  # a single example is never all held out
    assert int(heldout_mask(10, 0.01, 0).sum()) == 1  # a positive fraction holds out at least one
    assert int(heldout_mask(10, 0.0, 0).sum()) == 0
    with pytest.raises(ValueError, match=r"holdout must be in \[0, 1\)"):
        EdgesConfig(from_dataset="x", holdout=1.0)


def _rgb_png(path, colour, size=(12, 12)):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def test_paired_folder_side_by_side_and_as_two_folders(ctx_factory, tmp_path):
    from PIL import Image

    from ganforge.data.pairs import PairedFolderConfig, load_paired_folder

    side = tmp_path / "pairs"
    side.mkdir()
    for i in range(6):
        img = Image.new("RGB", (24, 12), (250, 0, 0))
        img.paste(Image.new("RGB", (12, 12), (0, 0, 250)), (12, 0))
        img.save(side / f"{i}.png")
    ds = load_paired_folder(
        PairedFolderConfig(path=str(side), image_size=8, channels_a=1), ctx_factory("mine")
    )
    assert (
        ds.kind == "paired"
        and ds.tensors["a"].shape == (6, 1, 8, 8)
        and ds.tensors["b"].shape == (6, 3, 8, 8)
    )
    assert ds.tensors["b"][:, 2].float().mean() > 200 and int(ds.tensors["heldout"].sum()) == 1
    two = tmp_path / "two"
    for i in range(5):
        _rgb_png(two / "A" / f"{i}.png", (10, 200, 10))
        _rgb_png(two / "B" / f"{i}.png", (200, 10, 10))
    _rgb_png(two / "A" / "extra.png", (0, 0, 0))  # no partner: left out
    ds = load_paired_folder(
        PairedFolderConfig(path=str(two), layout="folders", image_size=8), ctx_factory("two")
    )
    assert len(ds) == 5 and ds.meta["counts"]["unmatched"] == 1
    assert ds.tensors["a"][:, 1].float().mean() > 150 and ds.tensors["b"][:, 0].float().mean() > 150


def test_unpaired_folders_and_their_errors(ctx_factory, tmp_path):
    from ganforge.core.errors import DataError
    from ganforge.data.pairs import (
        PairedFolderConfig,
        UnpairedFoldersConfig,
        load_paired_folder,
        load_unpaired_folders,
    )

    root = tmp_path / "unpaired"
    for i in range(7):
        _rgb_png(root / "A" / f"a{i}.png", (10, 200, 10))
    for i in range(4):
        _rgb_png(root / "B" / f"b{i}.png", (200, 10, 10))
    ds = load_unpaired_folders(
        UnpairedFoldersConfig(path=str(root), image_size=8, holdout=0.3), ctx_factory("u")
    )
    assert ds.kind == "unpaired" and len(ds.tensors["a"]) == 7 and len(ds.tensors["b"]) == 4
    assert int(ds.tensors["heldout_a"].sum()) == 2 and int(ds.tensors["heldout_b"].sum()) == 1
    with pytest.raises(MissingDataError, match="does not exist"):
        load_unpaired_folders(UnpairedFoldersConfig(path=str(root), b_dir="C"), ctx_factory("u"))
    (tmp_path / "B2").mkdir()
    _rgb_png(tmp_path / "A2" / "x.png", (1, 2, 3))
    _rgb_png(tmp_path / "B2" / "y.png", (1, 2, 3))
    with pytest.raises(DataError, match="no file name is in both"):
        load_paired_folder(
            PairedFolderConfig(path=str(tmp_path), layout="folders", a_dir="A2", b_dir="B2"), ctx_factory("p")
        )
