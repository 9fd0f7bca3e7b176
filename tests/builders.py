"""Small fixtures in the real raw formats, made by the tests themselves: gzip IDX files, JPEG
folders with labels.csv, Kaggle-style zips, pix2pix/CycleGAN archives, and a whole mirror."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from ganforge.data.celeba import ATTRIBUTE_NAMES
from ganforge.evaluation.common import Settings
from ganforge.metrics.classifier import ClassifierConfig
from ganforge.metrics.suite import EvalConfig


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array."""
    assert array.dtype == np.uint8
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def write_idx_gz(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(idx_bytes(array), mtime=0))
    return path


def digit_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n 28×28 'digits' and their labels: class k is a patch of stripes, vertical for even k
    and horizontal for odd k, with period 2 + k // 2 and a random phase, on a dim noisy
    background (so a small CNN can tell the classes apart, whatever the shift)."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype(np.uint8)
    images = rng.integers(0, 30, size=(n, 28, 28), dtype=np.uint8)
    coords = np.arange(20)
    for i, label in enumerate(labels):
        period = 2 + int(label) // 2
        on = ((coords + rng.integers(period)) % period) == 0
        patch = np.broadcast_to(on[None, :] if label % 2 == 0 else on[:, None], (20, 20))
        images[i, 4:24, 4:24][patch] = 255
    return images, labels


def write_mnist_split(folder: Path, split: str, n: int, seed: int = 0) -> None:
    """An MNIST-style split (images and labels, gzip IDX) in `folder`."""
    prefix = {"train": "train", "test": "t10k"}[split]
    images, labels = digit_images(n, seed)
    write_idx_gz(folder / f"{prefix}-images-idx3-ubyte.gz", images)
    write_idx_gz(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)


def jpeg_bytes(rgb: tuple[int, int, int], size: tuple[int, int] = (40, 30), quality: int = 90) -> bytes:
    img = Image.new("RGB", size, rgb)
    for x in range(size[0] // 4, size[0] // 2):  # a dark block, so images are not flat
        for y in range(size[1] // 4, size[1] // 2):
            img.putpixel((x, y), (10, 10, 10))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def write_image_folder(
    folder: Path,
    n: int,
    groups: tuple[str, ...] = ("Animals", "Flags", "Food"),
    size: tuple[int, int] = (40, 30),
    bad: int = 0,
) -> list[str]:
    """`folder/images/NNNNN.jpg` and `folder/labels.csv` (file,group,name), as emoji64 is laid
    out; the last `bad` images are truncated JPEGs. Returns the file names."""
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    names, rows = [], ["file,group,name"]
    for i in range(n):
        name = f"{i:05d}.jpg"
        data = jpeg_bytes((40 * (i % 6), 255 - 20 * (i % 10), 128), size)
        (images / name).write_bytes(truncated(data) if i >= n - bad else data)
        names.append(name)
        rows.append(f"{name},{groups[i % len(groups)]},thing {i}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return names


def write_kaggle_zip(path: Path, n: int, bad: int = 0) -> Path:
    """A zip laid out like Kaggle's animefacedataset.zip: `images/<k>_<year>.jpg`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(n):
            data = jpeg_bytes((200, 30 * (i % 8), 90), size=(90 + i % 7, 96))
            zf.writestr(f"images/{i}_{2000 + i % 20}.jpg", truncated(data) if i >= n - bad else data)
    return path


def write_pix2pix_tar(path: Path, name: str, split: str, n: int) -> Path:
    """A pix2pix-style archive: `<name>/<split>/<k>.jpg`, each image A|B side by side."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        for i in range(n):
            img = Image.new("RGB", (64, 32), (255, 0, 0))
            img.paste(Image.new("RGB", (32, 32), (0, 0, 255)), (32, 0))
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=95)
            info = tarfile.TarInfo(f"{name}/{split}/{i + 1}.jpg")
            info.size = len(buf.getvalue())
            tf.addfile(info, io.BytesIO(buf.getvalue()))
    return path


def write_cyclegan_zip(path: Path, name: str, n_a: int, n_b: int) -> Path:
    """A CycleGAN-style archive: `<name>/trainA/*.jpg` and `<name>/trainB/*.jpg`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(n_a):
            zf.writestr(f"{name}/trainA/a_{i}.jpg", jpeg_bytes((180, 120, 60), (48, 48)))
        for i in range(n_b):
            zf.writestr(f"{name}/trainB/b_{i}.jpg", jpeg_bytes((250, 250, 250), (48, 48)))
    return path


def _tar_add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


def cifar_arrays(n: int, classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n random 3×32×32 uint8 images and labels below `classes`."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), rng.integers(0, classes, n).astype(np.uint8)


def write_cifar_tar(path: Path, which: str, per_file: int, pickled: bool = False) -> Path:
    """A CIFAR binary archive in the real layout (`cifar-10-batches-bin/data_batch_1.bin`... or
    `cifar-100-binary/train.bin`...), `per_file` records per batch file; `pickled` writes the
    Python version's layout instead (whose members are pickles)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        if pickled:
            folder = "cifar-10-batches-py" if which == "cifar10" else "cifar-100-python"
            _tar_add(tf, f"{folder}/data_batch_1", b"\x80\x04pickle-bytes-never-read")
            return path
        if which == "cifar10":
            files = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
            names = {"batches.meta.txt": [f"class{c}" for c in range(10)]}
            folder, classes = "cifar-10-batches-bin", [10]
        else:
            files = ["train.bin", "test.bin"]
            names = {
                "coarse_label_names.txt": [f"super{c}" for c in range(20)],
                "fine_label_names.txt": [f"fine{c}" for c in range(100)],
            }
            folder, classes = "cifar-100-binary", [20, 100]
        for k, name in enumerate(files):
            images, _ = cifar_arrays(per_file, 10, seed=k)
            labels = [cifar_arrays(per_file, c, seed=100 + k + c)[1] for c in classes]
            records = np.concatenate(
                [*(lab[:, None] for lab in labels), images.reshape(per_file, -1)], axis=1
            )
            _tar_add(tf, f"{folder}/{name}", records.tobytes())
        for name, lines in names.items():
            _tar_add(tf, f"{folder}/{name}", ("\n".join(lines) + "\n\n").encode())
    return path


CELEBA_N = 24
CELEBA_PARTITION = [0] * 16 + [1] * 4 + [2] * 4  # train, val, test


def face_jpeg(i: int, size: tuple[int, int] = (178, 218)) -> bytes:
    """A smooth random 'face' (upsampled noise, so it compresses small)."""
    rng = np.random.default_rng(i)
    small = Image.fromarray(rng.integers(0, 256, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8))
    buf = io.BytesIO()
    small.resize(size, Image.Resampling.BILINEAR).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def attribute_rows(n: int) -> np.ndarray:
    rows = np.where(np.random.default_rng(7).random((n, len(ATTRIBUTE_NAMES))) < 0.5, -1, 1)
    rows[:, ATTRIBUTE_NAMES.index("Male")] = [1 if i % 3 == 0 else -1 for i in range(n)]
    return rows


def attr_text(names=ATTRIBUTE_NAMES, rows=None, files=None) -> str:
    """list_attr_celeba.txt as published: count, names (trailing space), `file -1  1 ...`."""
    rows = attribute_rows(CELEBA_N) if rows is None else rows
    files = files or [f"{i + 1:06d}.jpg" for i in range(len(rows))]
    lines = [str(len(rows)), " ".join(names) + " "]
    lines += [f"{f} " + " ".join(f"{v:2d}" for v in row) for f, row in zip(files, rows, strict=True)]
    return "\n".join(lines) + "\n"


def write_celeba(
    folder: Path, n: int = CELEBA_N, partitions: bool = True, small: tuple[int, ...] = ()
) -> Path:
    """A tiny CelebA in the real layout: img_align_celeba.zip (img_align_celeba/000001.jpg ...),
    list_attr_celeba.txt and list_eval_partition.txt. Images in `small` are 100x100."""
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / "img_align_celeba.zip", "w") as zf:
        zf.writestr("img_align_celeba/", b"")
        for i in range(n):
            zf.writestr(
                f"img_align_celeba/{i + 1:06d}.jpg", face_jpeg(i, (100, 100) if i in small else (178, 218))
            )
    (folder / "list_attr_celeba.txt").write_text(attr_text(rows=attribute_rows(n)))
    if partitions:
        (folder / "list_eval_partition.txt").write_text(
            "".join(f"{i + 1:06d}.jpg {CELEBA_PARTITION[i]}\n" for i in range(n))
        )
    return folder


def build_mirror(root: Path, mnist_test: int = 400, emoji: int = 96) -> Path:
    """A small mirror laid out like shared/datasets (MNIST test split only, Fashion-MNIST
    both splits, an emoji64-like JPEG folder with labels.csv)."""
    write_mnist_split(root / "mnist", "test", mnist_test)
    write_mnist_split(root / "fashion-mnist", "train", mnist_test, seed=1)
    write_mnist_split(root / "fashion-mnist", "test", mnist_test // 2, seed=2)
    write_image_folder(root / "emoji64", emoji, size=(64, 64))
    return root


def offline_settings(real_count: int, epochs: int, batch_size: int = 16) -> Settings:
    """Evaluation settings for the tests: no Inception (never downloaded), 5 KID subsets, and a
    narrow domain classifier trained `epochs` without augmentation."""
    return Settings(
        EvalConfig(
            real_count=real_count, kid_subsets=5, inception_download=False, inception_weights="/nonexistent"
        ),
        ClassifierConfig(
            epochs=epochs, batch_size=batch_size, width=8, feature_dim=16, shift=0, rotate=0, scale=0
        ),
    )
