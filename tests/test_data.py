import gzip
import http.server
import os
import pickle
import shutil
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hourglass.core.errors import UserError
from hourglass.data import dataset_shape, download, list_datasets, load_dataset
from hourglass.data.idx import parse_idx
from hourglass.data.safe_pickle import UnsafePickleError, load_data_pickle


# ---- IDX (MNIST, Fashion-MNIST) -------------------------------------------------------------
def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def test_idx_roundtrip_and_bad_files():
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(parse_idx(idx_bytes(arr), Path("x")), arr)
    with pytest.raises(UserError, match="bad magic"):
        parse_idx(b"\x00\x00\x0d\x03" + idx_bytes(arr)[4:], Path("x"))
    with pytest.raises(UserError, match="wrong size"):
        parse_idx(idx_bytes(arr)[:-5], Path("x"))


def test_real_mnist_splits_follow_the_protocol(mnist):
    assert (len(mnist.train), len(mnist.eval), len(mnist.test)) == (50_000, 10_000, 10_000)
    assert mnist.image_shape == (1, 28, 28) and mnist.train.images.dtype == torch.uint8
    # the authors' split: the first 50k of NumPy's RandomState(42).permutation(60000) train
    # (in that order), the last 10k eval
    perm = torch.from_numpy(np.random.RandomState(42).permutation(60_000))
    labels = load_all_train_labels()
    assert torch.equal(mnist.train.labels, labels[perm[:50_000]])
    assert torch.equal(mnist.eval.labels, labels[perm[50_000:]])
    assert sorted(torch.bincount(mnist.test.labels).tolist())[0] > 800


def test_the_earlier_torch_split_stays_available(data_dir):
    old = load_dataset("mnist", data_dir, split_rng="torch")
    perm = torch.randperm(60_000, generator=torch.Generator().manual_seed(42))
    assert torch.equal(old.train.labels[:1000], load_all_train_labels()[perm[:1000]])
    with pytest.raises(UserError, match="split-rng"):
        load_dataset("digits", split_rng="python")


def load_all_train_labels() -> torch.Tensor:
    from conftest import SHARED_DATA

    raw = gzip.decompress((SHARED_DATA / "mnist" / "train-labels-idx1-ubyte.gz").read_bytes())
    return torch.from_numpy(np.frombuffer(raw, np.uint8, offset=8).astype(np.int64))


def copy_mnist(src: Path, dst: Path) -> Path:
    shutil.copytree(src / "mnist", dst / "mnist")
    return dst / "mnist"


def test_truncated_and_corrupted_mnist_are_refused(data_dir, tmp_path):
    folder = copy_mnist(data_dir, tmp_path)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(gzip.decompress(labels.read_bytes())[:-10]))
    with pytest.raises(UserError, match="checksum mismatch"):
        load_dataset("mnist", tmp_path)
    labels.write_bytes(labels.read_bytes()[:100])  # a truncated gzip stream
    with pytest.raises(UserError, match="damaged"):
        load_dataset("mnist", tmp_path)


def test_missing_files_name_the_path_and_the_download_command(tmp_path):
    with pytest.raises(UserError, match=r"no data at .*mnist.*hourglass data download mnist"):
        load_dataset("mnist", tmp_path)
    with pytest.raises(UserError, match="unknown dataset 'svhn'"):
        load_dataset("svhn", tmp_path)


def test_digits_is_embedded():
    ds = load_dataset("digits")
    assert ds.image_shape == (1, 8, 8) and len(ds.train) + len(ds.eval) + len(ds.test) == 1797
    assert int(ds.train.images.max()) == 255


# ---- CIFAR-10 python batches, read without executing pickle ----------------------------------
def write_cifar_batches(folder: Path, n: int = 20, protocol: int = 2) -> np.ndarray:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"batch_label": b"x", b"labels": [i % 10 for i in range(n)], b"data": data,
                 b"filenames": [b"f.png"] * n}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
    return data


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_safe_pickle_reads_plain_data_and_numpy_arrays(protocol):
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    obj = {b"data": arr, b"labels": [1, 2, 3], b"name": b"batch", "f": np.arange(3.0)}
    got = load_data_pickle(pickle.dumps(obj, protocol=protocol))
    assert np.array_equal(got["data"], arr) and got["labels"] == [1, 2, 3]
    assert got["name"] == b"batch" and np.array_equal(got["f"], np.arange(3.0))


class Evil:
    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_safe_pickle_never_executes_code(tmp_path, protocol):
    target = tmp_path / "pwned"
    with pytest.raises(UnsafePickleError, match="system"):
        load_data_pickle(pickle.dumps({"data": Evil(target)}, protocol=protocol))
    assert not target.exists()


def test_cifar_official_batches(tmp_path):
    data = write_cifar_batches(tmp_path / "cifar-10-batches-py", n=2000)
    ds = load_dataset("cifar10", tmp_path)
    assert ds.image_shape == (3, 32, 32) and len(ds.test) == 2000
    assert len(ds.train) + len(ds.eval) == 10_000 and len(ds.eval) == 5000
    assert torch.equal(ds.test.images[0].flatten(), torch.from_numpy(data[0]))  # CHW order


def test_cifar_batch_that_is_not_one_is_refused(tmp_path):
    write_cifar_batches(tmp_path / "cifar-10-batches-py")
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(UserError, match="not a CIFAR-10 python batch"):
        load_dataset("cifar10", tmp_path)


# ---- ImageNet-32 npz ---------------------------------------------------------------------
def test_imagenet32_npz_batches(tmp_path):
    folder = tmp_path / "imagenet32"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in (1, 2, 10):
        np.savez(folder / f"train_data_batch_{i}.npz",
                 data=rng.integers(0, 256, (30, 3072), dtype=np.uint8),
                 labels=rng.integers(1, 1001, 30), mean=np.zeros(3072))
    val = rng.integers(0, 256, (40, 3072), dtype=np.uint8)
    np.savez(folder / "val_data.npz", data=val, labels=np.full(40, 1000))
    ds = load_dataset("imagenet32", tmp_path)
    assert (len(ds.train), len(ds.eval), len(ds.test)) == (90, 20, 20)
    assert int(ds.test.labels.max()) == 999 and ds.num_classes == 1000
    np.savez(folder / "val_data.npz", data=val, labels=np.zeros(40))
    with pytest.raises(UserError, match="1-based"):
        load_dataset("imagenet32", tmp_path)


# ---- image folders ----------------------------------------------------------------------
def write_folder(root: Path, size=(12, 10), mode="RGB", n=6) -> Path:
    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        for cls in ("cat", "dog"):
            (root / split / cls).mkdir(parents=True)
            for i in range(n):
                shape = (size[0], size[1], 3) if mode == "RGB" else size
                Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(
                    root / split / cls / f"{i}.png")
    return root


def test_image_folder_is_loaded_resized_and_cached(tmp_path):
    root = write_folder(tmp_path / "pets")
    assert dataset_shape(f"folder:{root}") == ((3, 12, 10), 2)
    ds = load_dataset(f"folder:{root}", image_size="8x6", channels=1)
    assert ds.image_shape == (1, 8, 6) and ds.num_classes == 2 and len(ds.test) == 12
    again = load_dataset(f"folder:{root}", image_size="8x6", channels=1)
    assert torch.equal(ds.test.images, again.test.images)


def test_a_cached_folder_stats_each_image_once_and_an_edit_invalidates_it(tmp_path,
                                                                         monkeypatch):
    # 60,000 CIFAR-10 files: each pass over them (a listing, a stat) cost seconds per run
    root = write_folder(tmp_path / "pets")
    load_dataset(f"folder:{root}")  # builds the caches
    stats, real_stat = [], os.stat
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: (
        stats.append(str(p)) if str(p).endswith(".png") else None) or real_stat(p, *a, **k))
    ds = load_dataset(f"folder:{root}")
    monkeypatch.undo()
    assert sorted(stats) == sorted(str(p) for p in root.rglob("*.png"))  # 24 files, once each
    edited = root / "test" / "cat" / "0.png"
    Image.fromarray(np.zeros((12, 10, 3), np.uint8)).save(edited)
    os.utime(edited, ns=(1, 1))  # a new mtime even on a coarse clock
    again = load_dataset(f"folder:{root}")
    assert again.test.images[0].sum() == 0 and not torch.equal(ds.test.images, again.test.images)


def test_undecodable_image_is_named(tmp_path):
    root = write_folder(tmp_path / "pets")
    (root / "test" / "dog" / "bad.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match=r"bad\.png: cannot decode image"):
        load_dataset(f"folder:{root}")


def test_a_folder_of_mixed_sizes_is_refused_unless_given_one_size(tmp_path):
    root = write_folder(tmp_path / "pets")  # 12x10 images
    Image.new("RGB", (9, 7)).save(root / "train" / "cat" / "0-stray.png")  # sorts first
    with pytest.raises(UserError, match=r"images of 2 sizes, height x width \(24 of 12x10 .*"
                                        r"1 of 7x9 \(e\.g\. .*0-stray\.png\)\); pass "
                                        r"--image-size"):
        dataset_shape(f"folder:{root}")
    assert dataset_shape(f"folder:{root}", image_size="12x10") == ((3, 12, 10), 2)
    assert load_dataset(f"folder:{root}", image_size="12x10").image_shape == (3, 12, 10)


def test_the_classes_come_from_train_and_another_split_may_not_add_one(tmp_path):
    root = write_folder(tmp_path / "pets")
    (root / "test" / "bird").mkdir()
    Image.new("RGB", (10, 12)).save(root / "test" / "bird" / "0.png")
    with pytest.raises(UserError, match=r"class folder\(s\) bird are not in .*train"):
        load_dataset(f"folder:{root}")


def test_a_one_class_folder_cannot_be_classified(tmp_path):
    from hourglass.training import TrainConfig, count_run_params

    root = write_folder(tmp_path / "pets")
    for split in ("train", "test"):
        shutil.rmtree(root / split / "dog")
    cfg = TrainConfig(task="classify", dataset=f"folder:{root}", skip_dim=64, inner_dim=8,
                      depth=1)
    with pytest.raises(UserError, match="1 class; classify needs at least 2"):
        count_run_params(cfg)
    assert count_run_params(TrainConfig(task="denoise", dataset=f"folder:{root}", skip_dim=400,
                                        inner_dim=8, depth=1))["params"] > 0


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    import subprocess

    from hourglass.core.files import write_bytes_atomic

    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that no longer runs
    stale = tmp_path / f".cache.npy.{dead.pid}.abc123.tmp"
    stale.write_bytes(b"x" * 1000)
    mine = tmp_path / f".cache.npy.{os.getpid()}.def456.tmp"  # a live writer's: kept
    mine.write_bytes(b"y")
    write_bytes_atomic(tmp_path / "cache.npy", b"data")
    assert not stale.exists() and mine.exists()
    assert (tmp_path / "cache.npy").read_bytes() == b"data"


def test_folder_without_splits_is_refused(tmp_path):
    (tmp_path / "x" / "cat").mkdir(parents=True)
    with pytest.raises(UserError, match="needs train/<class>/ and test/<class>/"):
        load_dataset(f"folder:{tmp_path / 'x'}")


@pytest.mark.integration
def test_real_cifar10_jpeg_folder(cifar_dir):
    ds = load_dataset("cifar10", cifar_dir)
    assert (len(ds.train), len(ds.eval), len(ds.test)) == (45_000, 5_000, 10_000)
    assert ds.image_shape == (3, 32, 32)
    assert torch.bincount(ds.test.labels).tolist() == [1000] * 10
    rows = {r["name"]: r for r in list_datasets(cifar_dir)}
    assert rows["cifar10"]["found"] and not rows["mnist"]["found"]


def test_data_list_says_how_to_unpack_an_archive_it_finds(tmp_path):
    (tmp_path / "cifar10-jpeg.tar.gz").write_bytes(b"")
    rows = {r["name"]: r for r in list_datasets(tmp_path)}
    assert not rows["cifar10"]["found"]
    assert f"tar xzf {tmp_path / 'cifar10-jpeg.tar.gz'} -C {tmp_path / 'cifar10'}" in (
        rows["cifar10"]["hint"])
    assert rows["mnist"]["hint"] == ""


@pytest.mark.parametrize("mode, value, bits", [("I;16", 32896, 16), ("I", 65535, 16),
                                               ("F", 0.5, 32), ("L", 200, 8), ("1", 1, 1)])
def test_every_bit_depth_is_scaled_to_8_bits(tmp_path, mode, value, bits):
    from hourglass.data.folder import decode_image, describe_image

    path = tmp_path / ("x.tif" if mode in ("F", "I") else "x.png")
    Image.new(mode, (5, 4), value).save(path)
    want = {32896: 128, 65535: 255, 0.5: 128, 200: 200, 1: 255}[value]
    got = decode_image(path, (4, 5), 1)
    assert got.shape == (1, 4, 5) and (got == want).all(), (Image.open(path).mode, got[0, 0])
    assert describe_image(path) == ((4, 5), 1, bits)
    rgb = decode_image(path, (4, 5), 3)
    assert rgb.shape == (3, 4, 5) and (rgb == want).all()


@pytest.mark.parametrize("mode, value, suffix", [
    ("RGB", (10, 200, 30), "png"), ("RGBA", (10, 200, 30, 128), "png"), ("LA", (90, 255), "png"),
    ("P", 7, "png"), ("CMYK", (10, 20, 30, 40), "jpg"), ("YCbCr", (100, 120, 140), "jpg")])
def test_8_bit_modes_convert_as_pillow_converts_them(tmp_path, mode, value, suffix):
    from hourglass.data.folder import decode_image

    path = tmp_path / f"x.{suffix}"
    Image.new(mode, (5, 4), value).save(path)
    with Image.open(path) as img:
        grey, rgb = np.array(img.convert("L")), np.array(img.convert("RGB"))
    assert np.array_equal(decode_image(path, (4, 5), 1)[0], grey)
    assert np.array_equal(decode_image(path, (4, 5), 3).transpose(1, 2, 0), rgb)


# ---- download, from a server on loopback ---------------------------------------------------
@pytest.fixture()
def mirror(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HOURGLASS_DOWNLOAD_MIRROR", f"http://127.0.0.1:{server.server_port}/")
    yield served
    server.shutdown()


def test_download_verifies_checksums(data_dir, tmp_path, mirror):
    for f in (data_dir / "mnist").glob("*.gz"):
        shutil.copy(f, mirror / f.name)
    out = download("mnist", tmp_path / "dl")
    assert len(load_dataset("mnist", tmp_path / "dl").test) == 10_000
    assert out == tmp_path / "dl" / "mnist"


def test_download_refuses_a_corrupted_file_and_keeps_nothing(data_dir, tmp_path, mirror):
    for f in (data_dir / "mnist").glob("*.gz"):
        shutil.copy(f, mirror / f.name)
    labels = mirror / "train-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[100] ^= 1
    labels.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(UserError, match="checksum mismatch.*nothing was kept"):
        download("mnist", tmp_path / "dl")
    assert not (tmp_path / "dl" / "mnist" / "train-labels-idx1-ubyte.gz").exists()


def test_download_offline_says_where_to_put_the_files(tmp_path, monkeypatch):
    monkeypatch.setenv("HOURGLASS_DOWNLOAD_MIRROR", "http://127.0.0.1:9/")
    with pytest.raises(UserError, match=r"cannot download .*copy the files into .*fashion-mnist"):
        download("fashion-mnist", tmp_path / "new")
    assert not (tmp_path / "new").exists()  # no empty folders left behind
    (tmp_path / "kept").mkdir()
    for name in ("fashion-mnist", "cifar10"):
        with pytest.raises(UserError, match="cannot download"):
            download(name, tmp_path / "kept")
    assert list((tmp_path / "kept").iterdir()) == []  # the user's folder itself stays
    with pytest.raises(UserError, match="image-net.org"):
        download("imagenet32", tmp_path)


def test_a_limited_test_split_is_a_seeded_sample_of_every_class():
    import torch

    from hourglass.data import Split

    labels = torch.arange(10).repeat_interleave(100)  # class order, as an image folder's test
    split = Split(torch.arange(1000)[:, None, None, None].to(torch.uint8), labels)
    first, sampled = split.take(200), split.sample(200)
    assert set(first.labels.tolist()) == {0, 1}  # what --eval-limit used to test on
    assert set(sampled.labels.tolist()) == set(range(10))
    assert sampled.labels.tolist() == sorted(sampled.labels.tolist())  # order kept
    assert torch.equal(split.sample(200).labels, sampled.labels)  # seeded
    assert split.sample(None) is split and split.sample(5000) is split
