"""Hostile input, round 3: image folders checked before decoding, data identity, output folders
with one writer, the recipe's options, removed flags and overlays. Each case runs the command
in a child process under test_hostile_inputs.py's memory limit and must be one line on stderr with
exit status 2; the image-size cases must also peak under 1 GiB of resident memory, measured."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import rewrite_metadata
from PIL import Image
from test_hostile_inputs import MEMORY, TIMEOUT_S, png_header

from hourglass.cli.main import main

PEAK = 1 << 30  # the image-size cases' resident memory, at most
ARCH = ["--skip-dim", "64", "--inner-dim", "8", "--depth", "2"]
VIT = ["--family", "vit", "--task", "classify", "--skip-dim", "32", "--inner-dim", "64",
       "--depth", "1", "--heads", "2"]
TEXT = "the quick brown fox jumps over the lazy dog. " * 200
LM = ["--family", "lm", "--task", "lm", "--skip-dim", "16", "--inner-dim", "32", "--depth",
      "1", "--heads", "2", "--context", "16", "--batch-size", "16", "--epochs", "1",
      "--threads", "1", "--quiet"]
# run the command, then print the child's peak resident set (KiB) as the last stdout line
PEAK_WRAPPER = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
                "sys.exit(r.returncode)")


def folder(t: Path, n: int = 16, size=(16, 16), classes=("cat", "dog"), first=None) -> str:
    """An image folder of n small PNGs per class and split; ``first``: bytes of an extra
    file that sorts first in train/cat."""
    root = t / "imgs"
    for split in ("train", "test"):
        for c in classes:
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.new("RGB", size, (i * 9, 0, 0)).save(root / split / c / f"{i:02d}.png")
    if first is not None:
        (root / "train" / classes[0] / "00-first.png").write_bytes(first)
    return f"folder:{root}"


def ds(t: Path, **kw) -> list[str]:
    return ["--dataset", folder(t, **kw)]


def lm_run(t: Path) -> Path:
    (t / "c.txt").write_text(TEXT)
    assert main(["train", *LM, "--dataset", f"text:{t / 'c.txt'}", "--out", str(t / "run")]) == 0
    return t / "run"


def changed_text(t: Path) -> None:
    lm_run(t)
    (t / "c.txt").write_text(TEXT.replace("q", "z"))


def unfinished(t: Path) -> None:
    changed_text(t)
    (t / "run" / "metrics.json").unlink()


def lm_search(t: Path) -> None:
    (t / "c.txt").write_text(TEXT)
    (t / "s.toml").write_text(
        f'name = "lm-text"\ntask = "lm"\ndataset = "text:{t / "c.txt"}"\nfamily = "lm"\n'
        'epochs = 1\nbatch_size = 16\ncontext = 16\nwarmup = 0\n[hourglass]\nskip_dim = [16]\n'
        'inner_dim = [8]\ndepth = [1]\nheads = [2]\nlr = [3e-3]\n')
    assert main(["search", str(t / "s.toml"), "--out", str(t / "s"), "--quiet"]) == 0


def space(t: Path, extra: str, name: str = "sp") -> None:
    (t / f"{name}.toml").write_text(
        f'name = "{name}"\ntask = "denoise"\ndataset = "digits"\nepochs = 1\n{extra}\n'
        "[hourglass]\nskip_dim = [64]\ninner_dim = [8]\ndepth = [1]\nlr = [1e-3]\n")


def held(t: Path) -> None:
    """A live process holds t/held, as a running train or search would."""
    p = subprocess.Popen([sys.executable, "-c", (
        "import time; from pathlib import Path; from hourglass.core.files import FolderLock; "
        f"FolderLock(Path({str(t / 'held')!r}), 'hourglass train'); print('held', flush=True); "
        "time.sleep(600)")], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "held\n"
    HOLDERS.append(p)


HOLDERS: list[subprocess.Popen] = []


def frontier(t: Path, name: str, task: str = "denoise", fronts=None) -> None:
    (t / name).mkdir()
    (t / name / "frontier.json").write_text(json.dumps({
        "space": {"name": name, "task": task, "dataset": "digits"}, "metric": "test_psnr",
        "reference_point": {"quality": 10.0}, "frontiers": fronts or {},
        "frontiers_by_flops": {}, "configurations": []}))


def a_search(t: Path) -> None:
    space(t, "", "one")
    assert main(["search", str(t / "one.toml"), "--out", str(t / "o"), "--quiet"]) == 0


def resigned(t: Path, **change) -> None:
    rewrite_metadata(lm_run(t) / "model.safetensors", **change)


TRAIN = ["train", *ARCH, "--epochs", "1", "--threads", "1", "--quiet"]
CASES = {
    # image folders: sizes and classes checked from headers, before decoding (memory measured)
    "vit at 20000x20000 on 32 images": (lambda t: None, ["train", *VIT, "--dataset", "F",
                                        "--image-size", "20000x20000", "--out", "r"],
                                        "would take 71.5 GiB decoded; at most 8 GiB", True),
    "vit at 4096": (lambda t: None, ["train", *VIT, "--dataset", "F", "--image-size", "4096",
                                     "--out", "r"], "tokens: at most", True),
    "mlp at 20000x20000 on 32 images": (lambda t: None, [*TRAIN, "--task", "denoise",
                                        "--dataset", "F", "--image-size", "20000x20000",
                                        "--out", "r"], "GiB decoded; at most 8 GiB", True),
    "mlp at 4096": (lambda t: None, [*TRAIN, "--dataset", "F", "--image-size", "4096", "--out",
                                     "r"], "at most 1,000,000", True),
    "params at 4096": (lambda t: None, ["params", *ARCH, "--dataset", "F", "--image-size",
                                        "4096"], "at most 1,000,000", True),
    "a 6000x6000 header first": (lambda t: folder(t, first=png_header(6000, 6000)),
                                 [*TRAIN, "--dataset", "G", "--out", "r"],
                                 "images of 2 sizes", True),
    "a 6000x6000 header resized": (lambda t: folder(t, first=png_header(6000, 6000)),
                                   [*TRAIN, "--dataset", "G", "--image-size", "16", "--out",
                                    "r"], "cannot decode image", True),
    "a header of 1e10 pixels": (lambda t: folder(t, first=png_header(100000, 100000)),
                                [*TRAIN, "--dataset", "G", "--out", "r"],
                                "could be decompression bomb", True),
    "a header of 81 megapixels": (lambda t: folder(t, first=png_header(9000, 9000)),
                                  [*TRAIN, "--dataset", "G", "--out", "r"],
                                  "9000x9000 pixels (height x width); at most 67,108,864", True),
    "a stray 7x9 image": (lambda t: (folder(t), Image.new("RGB", (9, 7)).save(
        t / "imgs" / "train" / "cat" / "00.png")), [*TRAIN, "--dataset", "G", "--out", "r"],
        "images of 2 sizes", True),
    "a test class train lacks": (lambda t: (folder(t), (t / "imgs" / "test" / "owl").mkdir()),
                                 [*TRAIN, "--dataset", "G", "--out", "r"],
                                 "owl are not in", False),
    "one class, classified": (lambda t: folder(t, classes=("cat",)), ["train", *VIT,
                              "--dataset", "G", "--out", "r"], "needs at least 2", False),
    "no test split": (lambda t: (t / "imgs" / "train" / "cat").mkdir(parents=True),
                      [*TRAIN, "--dataset", "G", "--out", "r"], "needs train/<class>/", False),
    "no images in train": (lambda t: [(t / "imgs" / s / "cat").mkdir(parents=True)
                                      for s in ("train", "test")],
                           [*TRAIN, "--dataset", "G", "--out", "r"], "no images found", False),
    "image size 0": (lambda t: folder(t), [*TRAIN, "--dataset", "G", "--image-size", "0",
                                           "--out", "r"], "give a positive N or HxW", False),
    "image size 10x10x10": (lambda t: folder(t), [*TRAIN, "--dataset", "G", "--image-size",
                                                  "10x10x10", "--out", "r"], "HxW", False),
    "image size words": (lambda t: folder(t), [*TRAIN, "--dataset", "G", "--image-size",
                                               "big", "--out", "r"], "HxW", False),
    "a text file named .png": (lambda t: folder(t, first=b"hello"), [
        *TRAIN, "--dataset", "G", "--out", "r"], "cannot decode image", False),
    # the recipe's options
    "label smoothing below 0": (None, ["train", *VIT, "--dataset", "digits", "--patch", "2",
                                       "--label-smoothing", "-0.1", "--out", "r"],
                                "--label-smoothing must be in [0, 1)", False),
    "label smoothing of 1": (None, ["train", *VIT, "--dataset", "digits", "--patch", "2",
                                    "--label-smoothing", "1", "--out", "r"],
                             "--label-smoothing must be in [0, 1)", False),
    "label smoothing to denoise": (None, [*TRAIN, "--label-smoothing", "0.1", "--out", "r"],
                                   "denoise task has no labels", False),
    "dropout of 1": (None, ["train", *LM, "--dataset", "moby-dick", "--dropout", "1", "--out",
                            "r"], "--dropout must be in [0, 1)", False),
    "dropout on the mlp": (None, [*TRAIN, "--dropout", "0.1", "--out", "r"],
                           "mlp family has no dropout", False),
    "recipe 9": (None, [*TRAIN, "--recipe", "9", "--out", "r"], "--recipe 9: choose one", False),
    "a space's recipe 9": (lambda t: space(t, "recipe = 9"), ["search", "sp.toml", "--out", "o"],
                           "--recipe 9", False),
    "a space's decay word": (lambda t: space(t, 'decay = "weird"'), ["search", "sp.toml",
                             "--out", "o"], "--decay 'weird'", False),
    "a space's dropout nan": (lambda t: space(t, "dropout = nan"), ["search", "sp.toml", "--out",
                              "o"], "--dropout must be in [0, 1)", False),
    # data identity
    "eval on a changed text": (changed_text, ["eval", "run"], "its content (sha256)", False),
    "resume on a changed text": (unfinished, ["train", *LM, "--dataset", "TXT", "--out",
                                              "run", "--resume"], "resume it on the data", False),
    "search on a changed text": (lambda t: (lm_search(t), (t / "c.txt").write_text(TEXT + "!")),
                                 ["search", "s.toml", "--out", "s"], "changed since", False),
    "vocabulary swapped": (lambda t: rewrite_metadata(lm_run(t) / "model.safetensors",
                                                      resign=False, task={"chars": " .a"}),
                           ["sample", "run", "--tokens", "3"], "does not match the digest",
                           False),
    "vocabulary swapped, re-signed": (lambda t: resigned(t, task={"chars": "ab"}),
                                      ["sample", "run", "--tokens", "3"],
                                      "characters in a vocabulary of", False),
    "data.json damaged": (lambda t: (lm_run(t), (t / "run" / "data.json").write_text("{x")),
                          ["eval", "run"], "damaged data fingerprint", False),
    "data.json a list": (lambda t: (lm_run(t), (t / "run" / "data.json").write_text("[1]")),
                         ["eval", "run"], "must be a JSON object", False),
    # output folders
    "train into a held folder": (held, [*TRAIN, "--out", "held"],
                                 "held is in use by hourglass train (pid", False),
    "search into a held folder": (lambda t: (held(t), space(t, "")),
                                  ["search", "sp.toml", "--out", "held"], "is in use by", False),
    "search into another space's": (lambda t: (space(t, "", "one"), main(
        ["search", str(t / "one.toml"), "--out", str(t / "o"), "--quiet"]), space(t, "", "two")),
        ["search", "two.toml", "--out", "o"], "holds the search of space 'one'", False),
    "a lock that is a folder": (lambda t: (t / "r" / ".hourglass.lock").mkdir(parents=True),
                                [*TRAIN, "--out", "r"], "cannot open the folder's lock", False),
    "out under a file": (lambda t: (t / "f").write_text("x"), [*TRAIN, "--out", "f/r"],
                         "cannot create the folder", False),
    # removed flags, overlays
    "engine": (None, [*TRAIN, "--engine", "stacked", "--out", "r"], "--engine was removed",
               False),
    "population": (lambda t: space(t, ""), ["search", "sp.toml", "--out", "o", "--population",
                                            "on"], "--population was removed", False),
    "overlay of a non-search": (lambda t: (a_search(t), (t / "b").mkdir()),
                                ["report", "o", "--with", "b"], "not a search directory", False),
    "overlay of another task": (lambda t: (a_search(t), frontier(t, "b", "superres")),
                                ["report", "o", "--with", "b"], "the same task and data", False),
    "overlay with a damaged search": (lambda t: (a_search(t), (t / "b").mkdir(), (
        t / "b" / "frontier.json").write_text("{oops")), ["report", "o", "--with", "b"],
        "damaged", False),
}


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(CASES))
def test_round3_hostile_input_is_one_line_exit_2(name, tmp_path, monkeypatch):
    setup, argv, match, measure = CASES[name]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the setups that train share a busy machine
    if setup is not None:
        setup(tmp_path)
    plain = f"folder:{tmp_path / 'imgs'}"
    argv = [plain if a == "G" else f"text:{tmp_path / 'c.txt'}" if a == "TXT" else a
            for a in argv]
    if "F" in argv:
        argv[argv.index("F")] = folder(tmp_path)
    try:
        r = subprocess.run([sys.executable, "-c", PEAK_WRAPPER, sys.executable, "-m",
                            "hourglass", *map(str, argv)], cwd=tmp_path, capture_output=True,
                           text=True, timeout=TIMEOUT_S, preexec_fn=_limit,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})
    finally:
        while HOLDERS:
            HOLDERS.pop().kill()
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert match in r.stderr, r.stderr
    if measure:  # ru_maxrss is in KiB on Linux
        assert int(r.stdout.split()[-1]) * 1024 < PEAK, r.stdout
    assert not (tmp_path / "r").exists() or name == "a lock that is a folder"


def test_there_are_at_least_40_cases():
    assert len(CASES) >= 40
