"""What a new user meets first: help pages, the built-in spaces, a search's progress and its
closing line, predict's account of what it converted."""

import json
import subprocess
import sys
import tomllib

import numpy as np
import pytest
from conftest import tiny
from PIL import Image

from hourglass.cli.main import build_parser, main
from hourglass.search import load_space
from hourglass.search.builtins import BUILTINS

COMMANDS = ["compare", "train", "eval", "predict", "sample", "params", "search", "spaces",
            "report", "data"]


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("argv", [[], ["--version"], ["--help"],
                                  *[[c, "--help"] for c in COMMANDS],
                                  ["params", "--dataset", "mnist", "--skip-dim", "785",
                                   "--inner-dim", "115", "--depth", "4"],
                                  # on the embedded text: the variant's own needs its file
                                  ["params", "--variant", "lm-char-hourglass", "--dataset",
                                   "moby-dick"]])
def test_help_version_and_params_answer_without_loading_torch(argv):
    # what makes them fast: `import torch` alone takes about a second here
    r = python("import sys\nfrom hourglass.cli.main import main\n"
               f"try:\n    code = main({argv!r})\nexcept SystemExit as e:\n    code = e.code\n"
               "print('torch' in sys.modules, code)")
    assert r.stdout.split()[-2:] == ["False", "0"], r.stderr


def test_a_bare_hourglass_lists_the_commands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert all(f"    {c} " in out for c in COMMANDS)


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("hourglass-mlp 0.")


@pytest.mark.parametrize("name", COMMANDS)
def test_every_help_page_has_examples_and_shows_defaults(name):
    sub = build_parser()._subparsers._group_actions[0].choices[name]
    text = sub.format_help()
    assert "examples:\n  hourglass " + name in text
    flat = " ".join(text.split())  # help lines wrap anywhere
    for action in sub._actions:
        if action.default not in (None, False, "==SUPPRESS==") and action.help:
            assert f"(default: {action.default})" in flat, action.dest


def test_help_pages_say_what_was_hidden():
    pages = {n: build_parser()._subparsers._group_actions[0].choices[n].format_help()
             for n in COMMANDS}
    assert "(default: denoise;" in pages["train"] and "(default: digits," in pages["train"]
    assert "moby-dick, embedded" in pages["train"]
    assert "(default: 0.001)" in pages["train"] and "(default: 0.25)" in pages["train"]
    assert "(default: 4.0)" in pages["compare"] and "fashion-mnist" in pages["compare"]
    assert "summary.md" in pages["report"]
    for name in ("eval", "predict", "report"):
        assert "run directory" in pages[name] or "search directory" in pages[name]


def test_builtin_spaces_are_listed(capsys):
    assert main(["spaces"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in BUILTINS)
    assert "quick-denoise" in out and "denoise on digits, 9 epochs" in out


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_a_printed_space_is_the_same_search(name, capsys, tmp_path):
    assert main(["spaces", name]) == 0
    path = tmp_path / "mine.toml"
    path.write_text(capsys.readouterr().out)
    assert tomllib.loads(path.read_text())["name"] == name
    assert load_space(str(path)).to_dict() == load_space(name).to_dict()


def test_an_unknown_builtin_space_is_one_line(capsys):
    assert main(["spaces", "quick-inpaint"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_predict_says_what_it_converted(tmp_path, capsys):
    assert main(["train", "--skip-dim", "64", "--inner-dim", "8", "--depth", "1", "--epochs",
                 "1", "--quiet", "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    rgb = np.random.default_rng(0).integers(0, 255, (112, 112, 3), dtype=np.uint8)
    Image.fromarray(rgb, "RGB").save(tmp_path / "photo.png")
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "photo.png"), "-o",
                 str(tmp_path / "out.png")]) == 0
    got = capsys.readouterr()
    result = json.loads(got.out)
    assert result["image_size"] == [112, 112] and result["image_channels"] == 3
    assert result["model_input_size"] == [8, 8]
    assert result["converted"] == ["resized 112x112 to 8x8 (bicubic)", "converted RGB to grey"]
    assert got.err == ("predict: photo.png: resized 112x112 to 8x8 (bicubic); converted RGB "
                       "to grey\n")
    Image.fromarray(rgb[:8, :8, 0], "L").save(tmp_path / "fits.png")
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "fits.png"), "-o",
                 str(tmp_path / "out.png")]) == 0
    got = capsys.readouterr()
    assert json.loads(got.out)["converted"] == [] and got.err == ""


@pytest.mark.integration
def test_a_search_shows_progress_and_ends_with_one_line_naming_the_report(tmp_path, capsys):
    space = tiny(tmp_path)
    out = tmp_path / "out"
    assert main(["search", str(space), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "search tiny" in err and "10/10" in err and "0 failed" in err
    last = err.strip().splitlines()[-1]
    assert last == (f"[search] trained 10 trials; 10 finished, 0 failed in all; report: "
                    f"{out / 'report.html'}")
    assert (out / "report.html").is_file() and (out / "summary.md").is_file()
    assert main(["search", str(space), "--out", str(out), "--quiet"]) == 0
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("[search] nothing left to train: every trial of this space was "
                           "already in")


@pytest.mark.integration
def test_a_search_in_which_every_trial_failed_exits_2(tmp_path, capsys):
    space = tiny(tmp_path, lr="1e4", conventional_lr="1e4")
    assert main(["search", str(space), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("hourglass: error: no trial finished (10 failed; trials.csv in "
                       f"{tmp_path / 'out'} says why)")


def test_planned_trials_per_rung():
    from hourglass.search.progress import planned

    space = load_space("quick-denoise")
    units = len(space.units())  # 27 + 12 architectures x 4 lrs
    assert planned("grid", space, 3, None) == {9: units * 2}
    assert planned("grid", space, 3, 5) == {9: 10}
    per_shape = [27 * 4, 12 * 4]
    assert planned("pareto-halving", space, 3, None) == {
        1: sum(per_shape), 3: sum(n // 3 for n in per_shape),
        9: 2 * sum(n // 9 for n in per_shape)}


@pytest.mark.parametrize("package", ["hourglass", "hourglass.data", "hourglass.models",
                                     "hourglass.training", "hourglass.search",
                                     "hourglass.report"])
def test_a_star_import_of_every_package_works(package):
    """Every name a package lists in __all__ resolves (a lazy name left pointing at a removed
    function, as train_many once did, fails here)."""
    namespace: dict = {}
    exec(f"from {package} import *", namespace)
    module = __import__(package, fromlist=["__all__"])
    assert set(module.__all__) <= set(namespace)
