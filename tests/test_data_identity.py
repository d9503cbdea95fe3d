"""A run and a search know their data: a text or files that changed since they started are
refused (eval: unless --data-changed-ok, and then said), and a checkpoint's vocabulary is
covered by its digest."""

from __future__ import annotations

import json

import pytest
from conftest import one_line, rewrite_metadata

from hourglass.cli.main import main
from hourglass.data.fingerprint import changes, fingerprint

TEXT = "the quick brown fox jumps over the lazy dog. " * 400
LM = ["--family", "lm", "--task", "lm", "--skip-dim", "16", "--inner-dim", "32", "--depth",
      "1", "--heads", "2", "--context", "16", "--batch-size", "16", "--epochs", "1",
      "--threads", "1", "--quiet"]


def test_a_fingerprint_says_what_changed(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("abcab")
    before = fingerprint(f"text:{path}")
    assert before["vocabulary"] == "abc" and before["characters"] == 5
    assert changes(before, fingerprint(f"text:{path}")) is None
    path.write_text("abcabd")
    said = changes(before, fingerprint(f"text:{path}"))
    assert "its content (sha256)" in said and "length in characters 5 -> 6" in said
    assert "vocabulary 3 -> 4 characters (new: 'd')" in said
    folder = tmp_path / "imgs"
    (folder / "train" / "a").mkdir(parents=True)
    (folder / "train" / "a" / "0.png").write_bytes(b"x")
    before = fingerprint(f"folder:{folder}")
    (folder / "train" / "a" / "1.png").write_bytes(b"y")
    assert "number of files 1 -> 2" in changes(before, fingerprint(f"folder:{folder}"))


@pytest.fixture
def lm_run(tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text(TEXT)
    out = tmp_path / "run"
    assert main(["train", *LM, "--dataset", f"text:{text}", "--out", str(out)]) == 0
    return text, out


def test_a_run_on_a_changed_text_is_refused_by_eval_and_resume(lm_run, capsys):
    text, out = lm_run
    assert json.loads((out / "data.json").read_text())["characters"] == len(TEXT)
    text.write_text(TEXT.replace("q", "z").replace("x", "q"))  # same length, other content
    one_line(capsys, ["eval", out], "changed since this run started: its content (sha256)")
    (out / "metrics.json").rename(out / "metrics.kept")  # as if killed before it finished
    one_line(capsys, ["train", *LM, "--dataset", f"text:{text}", "--out", out, "--resume"],
             "resume it on the data it started on")
    (out / "metrics.kept").rename(out / "metrics.json")
    capsys.readouterr()
    assert main(["eval", str(out), "--data-changed-ok"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert "its content (sha256)" in said["data_changed"] and "test_bpc" in said
    text.write_text(TEXT)  # the text as it was: accepted again, no note
    capsys.readouterr()
    assert main(["eval", str(out)]) == 0
    assert "data_changed" not in json.loads(capsys.readouterr().out)


def test_a_vocabulary_edited_in_the_checkpoint_is_refused(lm_run, capsys):
    _, out = lm_run
    model = out / "model.safetensors"
    from safetensors import safe_open

    with safe_open(str(model), framework="pt") as f:
        chars = json.loads(f.metadata()["task"])["chars"]
    swapped = chars[1] + chars[0] + chars[2:]  # two characters swapped, as the issue found
    rewrite_metadata(model, resign=False, task={"chars": swapped})
    one_line(capsys, ["sample", out, "--tokens", "5"], "does not match the digest")


def test_a_search_rerun_on_changed_data_is_refused(tmp_path, capsys):
    text = tmp_path / "corpus.txt"
    text.write_text(TEXT)
    space = tmp_path / "space.toml"
    space.write_text(
        f'name = "lm-text"\ntask = "lm"\ndataset = "text:{text}"\nfamily = "lm"\nepochs = 1\n'
        'batch_size = 16\ncontext = 16\nwarmup = 0\n[hourglass]\nskip_dim = [16]\n'
        'inner_dim = [8]\ndepth = [1]\nheads = [2]\nlr = [3e-3]\n')
    out = tmp_path / "s"
    assert main(["search", str(space), "--out", str(out), "--quiet"]) == 0
    text.write_text(TEXT + "!")
    one_line(capsys, ["search", space, "--out", out, "--quiet"],
             "changed since this run started")
