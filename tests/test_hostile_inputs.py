"""The standing suite of hostile input: absurd sizes, bad values, damaged and malicious data
files. Each case runs in a child process with 2 GiB of address space and must end in one line
on stderr, exit 2, no traceback; damaged checkpoints and journals are test_hostile.py's."""

import gzip
import os
import resource
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from conftest import one_line, rewrite_metadata
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save

from hourglass.cli.main import main

MEMORY = 2 << 30
TIMEOUT_S = 120  # a hang fails; no speed check (each case takes 1-3 s here, 6 s on a busy core)
ARCH = ["--skip-dim", "64", "--inner-dim", "8", "--depth", "2"]
TRAIN = ["train", *ARCH, "--epochs", "1", "--quiet"]
SPACE = """task = "denoise"
dataset = "digits"
epochs = 1
{top}
[hourglass]
skip_dim = [64]
inner_dim = [8]
depth = {depth}
lr = {lr}
"""


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def hostile(tmp_path, argv, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hourglass", *map(str, argv)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=TIMEOUT_S, preexec_fn=_limit,
                          env={**os.environ, **(env or {})})


def space_file(tmp_path, top="", depth="[2]", lr="[1e-3]") -> Path:
    path = tmp_path / "space.toml"
    path.write_text(SPACE.format(top=top, depth=depth, lr=lr))
    return path


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (the pixels never come)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def mnist_copy(tmp_path, shared) -> Path:
    shutil.copytree(shared / "mnist", tmp_path / "mnist")
    return tmp_path / "mnist"


def flip_deflate_byte(tmp_path, shared) -> None:
    f = mnist_copy(tmp_path, shared) / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))


def gzip_bomb(tmp_path, shared) -> None:
    f = mnist_copy(tmp_path, shared) / "train-images-idx3-ubyte.gz"
    with gzip.open(f, "wb", compresslevel=1) as g:
        for _ in range(80):
            g.write(bytes(1 << 20))  # 80 MiB of zeros in about 80 KiB


def truncated_gzip(tmp_path, shared) -> None:
    f = mnist_copy(tmp_path, shared) / "t10k-images-idx3-ubyte.gz"
    f.write_bytes(f.read_bytes()[: 1 << 15])


def laughs(levels: int = 60) -> bytes:
    """A pickle of about 600 bytes: each list holds the one before twice, through the memo."""
    body = b"\x80\x02]q\x000"
    for i in range(1, levels):
        body += b"]q" + bytes([i]) + b"(h" + bytes([i - 1]) + b"h" + bytes([i - 1]) + b"e0"
    return body + b"h" + bytes([levels - 1]) + b"."


def cifar_batches(data: bytes):
    def setup(tmp_path, shared) -> None:
        folder = tmp_path / "cifar-10-batches-py"
        folder.mkdir()
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            (folder / name).write_bytes(data)
    return setup


SELF_LIST = b"\x80\x02]q\x00h\x00a."  # a list that contains itself
DEEP_LIST = b"\x80\x02" + b"]" * 100_000 + b"a" * 99_999 + b"."  # 100,000 levels deep
RUN_OS_SYSTEM = b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R."


def trained_run(tmp_path, shared, **meta) -> None:
    shutil.copytree(shared["run"], tmp_path / "run")
    if meta:
        for key, change in meta.items():
            rewrite_metadata(tmp_path / "run" / "model.safetensors", **{key: change})


CASES = {
    # flags
    "weight decay nan": (None, [*TRAIN, "--weight-decay", "nan", "--out", "r"], "weight-decay"),
    "noise std nan": (None, [*TRAIN, "--noise-std", "nan", "--out", "r"], "noise-std"),
    "lr inf": (None, [*TRAIN, "--lr", "inf", "--out", "r"], "--lr must be positive"),
    "lr negative": (None, [*TRAIN, "--lr", "-1", "--out", "r"], "--lr must be positive"),
    "seed of 23 digits": (None, [*TRAIN, "--seed", "99999999999999999999999", "--out", "r"],
                          "--seed must be between 0 and"),
    "seed negative": (None, [*TRAIN, "--seed", "-1", "--out", "r"], "--seed must be between"),
    "depth 1e8": (None, ["train", "--skip-dim", "64", "--inner-dim", "8", "--depth",
                         "100000000", "--out", "r"], "at most 10,000 blocks"),
    "skip dim 1e8": (None, ["train", "--skip-dim", "100000000", "--inner-dim", "8", "--depth",
                            "2", "--out", "r"], "at most 1,000,000"),
    "params of 1e8 inner dim": (None, ["params", "--skip-dim", "64", "--inner-dim",
                                       "100000000", "--depth", "2"], "at most 1,000,000"),
    "too many parameters": (None, ["params", "--skip-dim", "900000", "--inner-dim", "900000",
                                   "--depth", "9000"], "parameters; at most"),
    "epochs 0": (None, [*TRAIN[:-3], "--epochs", "0", "--out", "r"], "--epochs must be"),
    "batch size negative": (None, [*TRAIN, "--batch-size", "-5", "--out", "r"],
                            "--batch-size must be"),
    "train limit 1": (None, [*TRAIN, "--train-limit", "1", "--out", "r"], "--train-limit"),
    "threads 0": (None, [*TRAIN, "--threads", "0", "--out", "r"], "--threads must be"),
    "unknown dataset": (None, [*TRAIN, "--dataset", "svhn", "--out", "r"], "unknown dataset"),
    "train out is a file": (lambda t, s: (t / "f").write_text("x"), [*TRAIN, "--out", "f"],
                            "is a file"),
    "search out is a file": (lambda t, s: ((t / "f").write_text("x"), space_file(t)),
                             ["search", "space.toml", "--out", "f"], "is a file"),
    "not a number": (None, [*TRAIN, "--lr", "fast", "--out", "r"], "invalid float value"),
    # search spaces
    "depth range of 1e9": (lambda t, s: space_file(t, depth="{low = 1, high = 1000000000}"),
                           ["search", "space.toml", "--out", "o"], "at most 10,000"),
    "lr range of 1e9 values": (lambda t, s: space_file(
        t, lr="{low = 1e-3, high = 1e-2, num = 1000000000}"),
        ["search", "space.toml", "--out", "o"], "at most 10,000"),
    "depth of 1e8": (lambda t, s: space_file(t, depth="[100000000]"),
                     ["search", "space.toml", "--out", "o"], "at most 10,000 blocks"),
    "grid of 1e11 trials": (lambda t, s: (t / "space.toml").write_text(
        'task = "denoise"\ndataset = "digits"\nepochs = 1\n[hourglass]\n'
        "skip_dim = {low = 100, high = 9000}\ninner_dim = {low = 1, high = 99}\n"
        "depth = {low = 1, high = 9000}\nlr = [1e-3, 2e-3]\n"),
        ["search", "space.toml", "--out", "o"], "trials; at most"),
    "seeds a string": (lambda t, s: space_file(t, top='seeds = "abc"'),
                       ["search", "space.toml", "--out", "o"], "seeds must be a list"),
    "seeds an integer": (lambda t, s: space_file(t, top="seeds = 5"),
                         ["search", "space.toml", "--out", "o"], "seeds must be a list"),
    "seeds of strings": (lambda t, s: space_file(t, top='seeds = ["a"]'),
                         ["search", "space.toml", "--out", "o"], "seeds: must be a finite int"),
    "max params a string": (lambda t, s: space_file(t, top='max_params = "lots"'),
                            ["search", "space.toml", "--out", "o"], "max_params: must be"),
    "train limit a string": (lambda t, s: space_file(t, top='train_limit = "abc"'),
                             ["search", "space.toml", "--out", "o"], "train_limit: must be"),
    "shape not a table": (lambda t, s: (t / "space.toml").write_text(
        'task = "denoise"\ndataset = "digits"\nepochs = 1\nhourglass = 5\n'),
        ["search", "space.toml", "--out", "o"], "must be a table"),
    "fractional step": (lambda t, s: space_file(t, depth="{low = 1, high = 4, step = 0.5}"),
                        ["search", "space.toml", "--out", "o"], "depth.step: must be"),
    "space lr nan": (lambda t, s: space_file(t, lr="[nan]"), ["search", "space.toml", "--out", "o"],
               "lr: must be a finite"),
    "space lr inf": (lambda t, s: space_file(t, lr="[inf]"), ["search", "space.toml", "--out", "o"],
               "lr: must be a finite"),
    "empty lr list": (lambda t, s: space_file(t, lr="[]"), ["search", "space.toml", "--out", "o"],
                      "empty"),
    "bad toml": (lambda t, s: (t / "space.toml").write_text("task = [\n"),
                 ["search", "space.toml", "--out", "o"], "not valid TOML"),
    "binary toml": (lambda t, s: (t / "space.toml").write_bytes(b"\xff\xfe\x00garbage"),
                    ["search", "space.toml", "--out", "o"], "not valid TOML"),
    # model families
    "vit layers 1e10": (None, ["params", "--family", "vit", "--task", "classify", "--skip-dim",
                               "64", "--inner-dim", "8", "--depth", "100000", "--sub-blocks",
                               "100000"], "at most 1,000"),
    "vit with an MLP option": (None, ["train", "--family", "vit", "--task", "classify", *ARCH,
                                      "--patch", "2", "--input-proj", "fixed", "--out", "r"],
                               "are the MLP's"),
    "unknown family in a space": (lambda t, s: (t / "space.toml").write_text(
        'task = "denoise"\ndataset = "digits"\nepochs = 1\nfamily = "cnn"\n'
        '[hourglass]\nskip_dim = [8]\ninner_dim = [4]\ndepth = [1]\nlr = [1e-3]\n'),
        ["search", "space.toml", "--out", "o"], "unknown model family 'cnn'"),
    "configs not a list": (lambda t, s: (t / "space.toml").write_text(
        'task = "classify"\ndataset = "digits"\nepochs = 1\nfamily = "vit"\n'
        '[hourglass]\nconfigs = 5\nlr = [1e-3]\n'),
        ["search", "space.toml", "--out", "o"], "configs: a list of 1 to 10,000"),
    "configs of 1e5": (lambda t, s: (t / "space.toml").write_text(
        'task = "classify"\ndataset = "digits"\nepochs = 1\nfamily = "vit"\n'
        '[hourglass]\nlr = [1e-3]\nconfigs = [' + ", ".join(
            ["{skip_dim = 64, inner_dim = 8, depth = 1, patch = 2}"] * 100_000) + "]\n"),
        ["search", "space.toml", "--out", "o"], "configs: a list of 1 to 10,000"),
    "unknown key": (lambda t, s: space_file(t, top="colour = 3"),
                    ["search", "space.toml", "--out", "o"], "unknown keys colour"),
    "epochs 0 in a space": (lambda t, s: (t / "space.toml").write_text(
        SPACE.format(top="", depth="[2]", lr="[1e-3]").replace("epochs = 1", "epochs = 0")),
        ["search", "space.toml", "--out", "o"], "epochs: values must be positive"),
    "hourglass that widens": (lambda t, s: (t / "space.toml").write_text(
        SPACE.format(top="", depth="[2]", lr="[1e-3]").replace("[8]", "[128]")),
        ["search", "space.toml", "--out", "o"], "every hourglass inner_dim must be below"),
    "no space": (None, ["search", "nowhere.toml", "--out", "o"], "no such file or built-in"),
    # run directories and checkpoints
    "config holding a list": (lambda t, s: (trained_run(t, s),
                                            (t / "run" / "config.json").write_text("[1, 2]")),
                              ["eval", "run"], "must be a JSON object"),
    "config not json": (lambda t, s: (trained_run(t, s),
                                      (t / "run" / "config.json").write_text("{oops")),
                        ["eval", "run"], "damaged run config"),
    "config with a string depth": (lambda t, s: (trained_run(t, s), (t / "run" / "config.json")
                                                 .write_text('{"depth": "deep"}')),
                                   ["train", *ARCH, "--out", "run", "--resume"],
                                   "different settings"),
    "weights with a flipped bit": (lambda t, s: (trained_run(t, s), _flip_last_byte(
        t / "run" / "model.safetensors")), ["eval", "run"], "do not match the digest"),
    "weights truncated": (lambda t, s: (trained_run(t, s), _truncate(
        t / "run" / "model.safetensors")), ["eval", "run"], "damaged or not a safetensors"),
    "metadata image 9x9": (lambda t, s: trained_run(t, s, task={"image_shape": [1, 9, 9]}),
                           ["eval", "run"], "takes 81 inputs"),
    "metadata image 1e5 x 1e5": (lambda t, s: trained_run(
        t, s, task={"image_shape": [1, 100000, 100000]}), ["eval", "run"], "takes 10000000000"),
    "metadata depth 1e8": (lambda t, s: trained_run(t, s, model_config={"depth": 100_000_000}),
                           ["eval", "run"], "at most 10,000 blocks"),
    "metadata bad norm": (lambda t, s: trained_run(t, s, model_config={"norm": "sometimes"}),
                          ["eval", "run"], "norm 'sometimes'"),
    "metadata unknown family": (lambda t, s: (trained_run(t, s), _set_family(
        t / "run" / "model.safetensors", "evil")), ["eval", "run"], "unknown model family"),
    "not a run": (lambda t, s: (t / "empty").mkdir(), ["eval", "empty"], "is not a training run"),
    # images given to predict
    "decompression bomb": (lambda t, s: (trained_run(t, s), (t / "big.png").write_bytes(
        png_header(20000, 20000))), ["predict", "run", "big.png", "-o", "y.png"],
        "cannot decode image"),
    "not an image": (lambda t, s: (trained_run(t, s), (t / "x.png").write_text("hello")),
                     ["predict", "run", "x.png", "-o", "y.png"], "cannot decode image"),
    "unwritable output name": (lambda t, s: (trained_run(t, s), Image.new("L", (8, 8)).save(
        t / "x.png")), ["predict", "run", "x.png", "-o", "y.unknown"], "cannot write the image"),
    # data files
    "idx with a flipped deflate byte": (flip_deflate_byte, [*TRAIN, "--dataset", "mnist",
                                                            "--data-dir", ".", "--out", "r"],
                                        "damaged"),
    "idx gzip bomb": (gzip_bomb, [*TRAIN, "--dataset", "mnist", "--data-dir", ".", "--out",
                                  "r"], "more than any MNIST-style file"),
    "idx truncated": (truncated_gzip, [*TRAIN, "--dataset", "mnist", "--data-dir", ".", "--out",
                                       "r"], "damaged"),
    "cifar pickle: billion laughs": (cifar_batches(laughs()), [*TRAIN, "--dataset", "cifar10",
                                                               "--data-dir", ".", "--out", "r"],
                                     "objects once references are followed"),
    "cifar pickle: contains itself": (cifar_batches(SELF_LIST), [
        *TRAIN, "--dataset", "cifar10", "--data-dir", ".", "--out", "r"], "contains itself"),
    "cifar pickle: 100k deep": (cifar_batches(DEEP_LIST), [
        *TRAIN, "--dataset", "cifar10", "--data-dir", ".", "--out", "r"], "nested deeper"),
    "cifar pickle: calls os.system": (cifar_batches(RUN_OS_SYSTEM), [
        *TRAIN, "--dataset", "cifar10", "--data-dir", ".", "--out", "r"], "os.system"),
    "cifar pickle: empty": (cifar_batches(b""), [
        *TRAIN, "--dataset", "cifar10", "--data-dir", ".", "--out", "r"], "cifar"),
    # environment
    "data dir is a file": (lambda t, s: (t / "d").write_text("x"), [*TRAIN, "--dataset",
                                                                    "mnist", "--out", "r"],
                           "hourglass data download mnist", {"HOURGLASS_DATA_DIR": "d"}),
    "mirror that is not a url": (None, ["data", "download", "mnist", "--data-dir", "dd"],
                                 "cannot download", {"HOURGLASS_DOWNLOAD_MIRROR": "::nonsense"}),
}


def _set_family(path: Path, family: str) -> None:
    from hourglass.training.checkpoint import META_DIGEST_KEY, metadata_digest

    with safe_open(str(path), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        meta = {**dict(f.metadata()), "family": family}
    path.write_bytes(save(tensors, metadata={**meta, META_DIGEST_KEY: metadata_digest(meta)}))


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-10] ^= 0x40
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


class Shared(dict):
    """What the cases build on: the trained run ("run") and the shared data folder (/)."""

    def __truediv__(self, name: str) -> Path:
        return self["data"] / name


@pytest.fixture(scope="module")
def shared(run_dir):
    from conftest import SHARED_DATA, need

    return Shared(run=run_dir, data=need(SHARED_DATA))


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input_is_one_line_exit_2_in_bounded_time_and_memory(name, tmp_path, shared):
    setup, argv, match, *env = CASES[name]
    if setup is not None:
        setup(tmp_path, shared)
    r = hostile(tmp_path, argv, *env)
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert match in r.stderr, r.stderr


def test_a_run_that_diverged_at_once_can_be_rerun_with_a_lower_lr(tmp_path, capsys):
    one_line(capsys, [*TRAIN, "--lr", "1e30", "--out", tmp_path / "r"], "training diverged")
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [".hourglass.lock", "config.json",
                                                              "data.json"]
    assert main([*TRAIN, "--lr", "1e-3", "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "metrics.json").is_file()


def test_noise_std_nan_is_refused_before_training(tmp_path, capsys):
    one_line(capsys, [*TRAIN, "--noise-std", "nan", "--out", tmp_path / "r"],
             "--noise-std must be a number >= 0")
    assert not (tmp_path / "r").exists()
