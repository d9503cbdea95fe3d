"""Datasets by name: where their files live, their image shape, and how to load them.

Names: ``digits`` (scikit-learn's bundled 8x8 digits, the embedded default), ``mnist``,
``fashion-mnist``, ``cifar10``, ``imagenet32`` and ``folder:PATH``; texts for the lm task
(``moby-dick``, embedded; ``tinyshakespeare``; ``text:PATH``) are found by data/text_files.py and
read by data/text.py. Files are
looked up in the data directory: ``--data-dir``, else ``$HOURGLASS_DATA_DIR``, else ``./data``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hourglass.core.errors import UserError
from hourglass.data.text_files import TEXT_SPECS, is_text, text_rows, vocab_size

if TYPE_CHECKING:
    from hourglass.data.splits import ImageDataset
    from hourglass.data.text import TextCorpus

# The readers (and NumPy and PyTorch with them) are imported where a dataset is read or
# probed, so that naming a dataset and its shape (`hourglass params`) costs nothing.


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    subdir: str | None  # below the data directory; None: needs no files
    image_shape: tuple[int, int, int] | None  # (C, H, W); None: read from the files
    num_classes: int | None
    about: str


SPECS = {s.name: s for s in [
    DatasetSpec("digits", None, (1, 8, 8), 10,
                "scikit-learn's bundled 8x8 digits (1,797 images); needs no files"),
    DatasetSpec("mnist", "mnist", (1, 28, 28), 10, "MNIST, the four IDX .gz files"),
    DatasetSpec("fashion-mnist", "fashion-mnist", (1, 28, 28), 10,
                "Fashion-MNIST, the four IDX .gz files"),
    DatasetSpec("cifar10", "cifar10", (3, 32, 32), 10,
                "CIFAR-10: cifar-10-batches-py/ (official) or cifar10/{train,test}/<class>/"),
    DatasetSpec("imagenet32", "imagenet32", (3, 32, 32), 1000,
                "ImageNet 32x32: train_data_batch_*.npz and val_data.npz"),
]}

# Holdouts follow PROTOCOL.md where it speaks (MNIST-like 50k/10k; ImageNet-32 val 25k/25k).
HOLDOUT = {"mnist": 10_000, "fashion-mnist": 10_000, "cifar10": 5_000}


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    return Path(data_dir or os.environ.get("HOURGLASS_DATA_DIR") or "data").expanduser()


def parse_image_size(value: str | int | tuple[int, int] | None) -> tuple[int, int] | None:
    """``32`` -> (32, 32); ``"28x32"`` -> (28, 32) as height x width."""
    if value is None or isinstance(value, tuple):
        return value
    try:
        parts = [int(v) for v in str(value).lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts) <= 0:
        raise UserError(f"--image-size {value!r}: give a positive N or HxW, e.g. 32 or 28x32")
    return (parts[0], parts[-1])


def _spec(name: str) -> DatasetSpec:
    if name.startswith("folder:"):
        return DatasetSpec(name, None, None, None, "image folder")
    if is_text(name):
        return DatasetSpec(name, None, None, None, TEXT_SPECS.get(name, "text file"))
    if name not in SPECS:
        raise UserError(f"unknown dataset {name!r}; choose one of "
                        f"{', '.join(SPECS)} or folder:PATH (images); "
                        f"{', '.join(TEXT_SPECS)} or text:PATH (the lm task)")
    return SPECS[name]


def _missing(name: str, path: Path) -> UserError:
    how = (f"run `hourglass data download {name}`" if name != "imagenet32" else
           "download the npz batches from image-net.org (registration needed)")
    return UserError(f"{name}: no data at {path}; put the files there, pass --data-dir or set "
                     f"HOURGLASS_DATA_DIR, or {how}")


def _folder_root(name: str, data_dir: Path) -> Path:
    return Path(name.split(":", 1)[1]).expanduser() if name.startswith("folder:") \
        else data_dir / "cifar10"


def _folder_layout(root: Path) -> tuple[Path, Path | None, Path]:
    """(train, eval or None, test) split folders of an image-folder tree."""
    if not (root / "train").is_dir() or not (root / "test").is_dir():
        raise UserError(f"{root}: an image folder needs train/<class>/ and test/<class>/ "
                        "subfolders (and optionally val/<class>/)")
    val = next((root / s for s in ("val", "eval", "valid") if (root / s).is_dir()), None)
    return root / "train", val, root / "test"


def _folder_shape(root: Path, image_size, channels):
    """((C, H, W), the class names, each split's listing: train, eval or None, test) of an
    image folder from its files' headers, checked before any pixel is decoded; the listings
    are taken once, for the loading to reuse. The classes are train/'s sub-folders: another
    split with a class that train/ lacks is refused. The size is --image-size (every image
    is resized to it, and the run's config records it) or, without it, the one size every
    image has: mixed sizes are refused rather than resized to whichever file sorts first."""
    from hourglass.data import folder

    layout = _folder_layout(root)
    splits = [d for d in layout if d is not None]
    classes = folder.class_names(splits[0])
    for d in splits[1:]:
        unknown = sorted(set(folder.class_names(d)) - set(classes))
        if unknown:
            raise UserError(f"{d}: class folder(s) {', '.join(unknown[:5])} are not in "
                            f"{splits[0]}; the classes come from train/")
    listed = [folder.list_split(d, classes) for d in splits]
    if not listed[0].paths:
        raise UserError(f"{splits[0]}: no images found (expected {splits[0]}/<class>/*.png|jpg)")
    if channels not in (None, 1, 3):
        raise UserError(f"--channels {channels}: must be 1 (grey) or 3 (RGB)")
    scan = folder.scan_headers(listed)
    size = parse_image_size(image_size)
    if size is None:
        if len(scan.sizes) > 1:
            common = sorted(scan.sizes.items(), key=lambda kv: -kv[1])
            sizes = ", ".join(f"{n} of {h}x{w} (e.g. {scan.examples[(h, w)]})"
                              for (h, w), n in common[:3])
            raise UserError(f"{root}: images of {len(scan.sizes)} sizes, height x width "
                            f"({sizes}); pass --image-size HxW to resize every image to one "
                            "size")
        size = next(iter(scan.sizes))
    c = channels or scan.channels
    decoded = scan.count * c * size[0] * size[1]
    if decoded > folder.MAX_DECODED_BYTES:
        raise UserError(f"{root}: {scan.count:,} images of {c}x{size[0]}x{size[1]} would take "
                        f"{decoded / 2**30:.1f} GiB decoded; at most "
                        f"{folder.MAX_DECODED_BYTES / 2**30:.0f} GiB: choose a smaller "
                        "--image-size")
    listing = dict(zip(splits, listed, strict=True))
    return (c, *size), classes, [listing.get(d) for d in layout]


def dataset_shape(name: str, data_dir: str | Path | None = None, image_size=None,
                  channels: int | None = None) -> tuple[tuple[int, int, int], int]:
    """((C, H, W), number of classes) without loading the images; for a text (None, the
    size of its vocabulary), which reads it."""
    spec = _spec(name)
    if is_text(name):
        return None, vocab_size(name, resolve_data_dir(data_dir))
    if spec.image_shape is not None:
        return spec.image_shape, spec.num_classes
    shape, classes, _ = _folder_shape(_folder_root(name, resolve_data_dir(data_dir)),
                                      image_size, channels)
    return shape, len(classes)


def _load_folder(root: Path, image_size, channels, use_cache: bool, name: str,
                 split_rng: str) -> ImageDataset:
    from hourglass.data import folder
    from hourglass.data.splits import ImageDataset, Split, random_split

    (c, h, w), classes, (train_list, val_list, test_list) = _folder_shape(root, image_size,
                                                                        channels)
    load = lambda s: folder.load_split(s, (h, w), c, use_cache)  # noqa: E731
    train = Split(*load(train_list))
    if val_list is not None:
        evalsplit = Split(*load(val_list))
    else:
        holdout = HOLDOUT.get(name, max(1, len(train) // 10))
        if len(train) <= holdout:
            raise UserError(f"{train_list.folder}: {len(train)} images are too few to hold out an "
                            f"eval split of {holdout}; add a val/ folder")
        train, evalsplit = random_split(train.images, train.labels, holdout, rng=split_rng)
    return ImageDataset(name, train, evalsplit, Split(*load(test_list)), len(classes))


def _load_digits(split_rng: str) -> ImageDataset:
    import numpy as np
    import torch
    from sklearn.datasets import load_digits  # the only use of scikit-learn

    from hourglass.data.splits import ImageDataset, random_split

    d = load_digits()
    images = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    images, labels = torch.from_numpy(images), torch.from_numpy(d.target.astype(np.int64))
    rest, test = random_split(images, labels, 250, rng=split_rng)
    train, evalsplit = random_split(rest.images, rest.labels, 250, rng=split_rng)
    return ImageDataset("digits", train, evalsplit, test, 10)


def load_dataset(name: str, data_dir: str | Path | None = None, *, image_size=None,
                 channels: int | None = None, use_cache: bool = True,
                 split_rng: str = "numpy") -> ImageDataset | TextCorpus:
    """Load train / eval / test splits as uint8 tensors, in memory except ImageNet-32's
    training set, which is memory-mapped (see data/imagenet32.py). Held-out splits are cut
    from a permutation seeded 42 (``split_rng``: numpy, the authors'; torch, this tool's
    earlier split). A text loads as a TextCorpus (data/text.py)."""
    from hourglass.data import cifar, idx, imagenet32
    from hourglass.data.splits import ImageDataset, Split, random_split
    from hourglass.data.text import load_text

    spec = _spec(name)
    root = resolve_data_dir(data_dir)
    if is_text(name):
        return load_text(name, root)
    if name == "digits":
        return _load_digits(split_rng)
    if name.startswith("folder:"):
        path = _folder_root(name, root)
        if not path.is_dir():
            raise UserError(f"{name}: {path} is not a folder")
        return _load_folder(path, image_size, channels, use_cache, name, split_rng)
    base = root / spec.subdir
    try:
        if name in ("mnist", "fashion-mnist"):
            train_all = idx.load_idx_pair(base, name, "train")
            test = Split(*idx.load_idx_pair(base, name, "test"))
            train, evalsplit = random_split(*train_all, HOLDOUT[name], rng=split_rng)
            return ImageDataset(name, train, evalsplit, test, 10)
        if name == "cifar10":
            official = root / "cifar-10-batches-py"
            if official.is_dir():
                train_all = cifar.load_cifar_batches(official, cifar.TRAIN_BATCHES)
                test = Split(*cifar.load_cifar_batches(official, cifar.TEST_BATCHES))
                train, evalsplit = random_split(*train_all, HOLDOUT[name], rng=split_rng)
                return ImageDataset(name, train, evalsplit, test, 10)
            if not base.is_dir():
                raise FileNotFoundError(official)
            return _load_folder(base, (32, 32), 3, use_cache, name, split_rng)
        # imagenet32: the validation set is split 25k eval / 25k test (PROTOCOL.md)
        train_files, val_file = imagenet32.find_batches(base)
        if not train_files or val_file is None:
            raise FileNotFoundError(base)
        train = Split(*imagenet32.mapped_batches(train_files), streamed=True)
        val = imagenet32.load_npz_batches([val_file])
        evalsplit, test = random_split(*val, val[0].shape[0] // 2, rng=split_rng)
        return ImageDataset(name, train, evalsplit, test, 1000)
    except FileNotFoundError as e:
        raise _missing(name, Path(e.args[0]) if e.args else base) from e


# Archives a user may have next to the data instead of the unpacked files, and how to unpack
ARCHIVES = {"cifar10": {"cifar10-jpeg.tar.gz": "cifar10", "cifar-10-python.tar.gz": "."},
            "mnist": {}, "fashion-mnist": {}, "imagenet32": {}}


def _archive_hint(name: str, root: Path) -> str:
    for archive, into in ARCHIVES.get(name, {}).items():
        if (root / archive).is_file():
            target = root / into
            return (f"found {root / archive}: unpack it with `mkdir -p {target} && tar xzf "
                    f"{root / archive} -C {target}`")
    return ""


def list_datasets(data_dir: str | Path | None = None) -> list[dict]:
    """What `hourglass data list` shows: each dataset, whether its files are found, and where
    (with how to unpack an archive of it lying in the data directory)."""
    from hourglass.data import idx, imagenet32

    root = resolve_data_dir(data_dir)
    rows = []
    for spec in SPECS.values():
        if spec.subdir is None:
            where, found = "(bundled with scikit-learn)", True
        elif spec.name == "cifar10" and (root / "cifar-10-batches-py").is_dir():
            where, found = root / "cifar-10-batches-py", True
        elif spec.name in ("mnist", "fashion-mnist"):
            where = root / spec.subdir
            found = all(idx.find_idx(where, f) for f in idx.IDX_FILES.values())
        elif spec.name == "imagenet32":
            where = root / spec.subdir
            train_files, val_file = imagenet32.find_batches(where) if where.is_dir() else ([], None)
            found = bool(train_files) and val_file is not None
        else:
            where = root / spec.subdir
            found = (where / "train").is_dir() and (where / "test").is_dir()
        rows.append({"name": spec.name, "found": found, "path": str(where),
                     "shape": list(spec.image_shape), "classes": spec.num_classes,
                     "about": spec.about, "hint": "" if found else _archive_hint(spec.name, root)})
    return rows + text_rows(root)
