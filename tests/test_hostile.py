"""Damaged files: a torn or overwritten search journal, damaged or hand-edited checkpoints. Each
is refused with one line (exit 2, no traceback) or recovered from, losing nothing that had
finished. The standing suite of hostile inputs is test_hostile_inputs.py."""

import shutil

import pytest
from conftest import one_line, rewrite_metadata, rows, tiny
from PIL import Image

from hourglass.cli.main import main
from hourglass.search.journal import intact_prefix


# ---- the search journal -----------------------------------------------------------------------
def test_the_intact_prefix_ends_at_the_first_damaged_record():
    a, b = b'{"op_code": 0}\n', b'{"op_code": 1}\n'
    assert intact_prefix(a + b) == len(a + b)
    assert intact_prefix(a + b[:-3]) == len(a)  # torn: no newline
    assert intact_prefix(a + b"\x00garbage\n" + b) == len(a)
    assert intact_prefix(a + b"[1, 2]\n") == len(a)  # JSON, but not a record
    assert intact_prefix(b"") == 0


@pytest.fixture(scope="module")
def finished_search(tmp_path_factory):
    root = tmp_path_factory.mktemp("journal")
    space = tiny(root)
    assert main(["search", str(space), "--out", str(root / "out"), "--quiet"]) == 0
    return space, root / "out"


def damage_and_rerun(finished_search, tmp_path, capsys, damage) -> tuple[list[dict], str]:
    space, done = finished_search
    out = tmp_path / "out"
    shutil.copytree(done, out)
    journal = out / "journal.log"
    journal.write_bytes(damage(journal.read_bytes()))
    capsys.readouterr()
    assert main(["search", str(space), "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    after = rows(out)
    assert len(after) == 10 and len({r["key"] for r in after}) == 10
    assert all(r["status"] == "complete" for r in after)
    assert {r["key"]: r["test_psnr"] for r in after} == {
        r["key"]: r["test_psnr"] for r in rows(done)}  # the same results, none retrained
    assert main(["search", str(space), "--out", str(out), "--quiet"]) == 0  # and again
    assert "intact records" not in capsys.readouterr().err
    return after, err


@pytest.mark.integration
@pytest.mark.parametrize("name, damage", [
    ("torn last record", lambda d: d[:-7]),
    ("garbage appended", lambda d: d + b"\x00\xffgarbage\n"),
    ("a torn record with more appended", lambda d: d[:-7] + b'{"op_code": 5}\n'),
    ("bytes overwritten mid-file", lambda d: d[:len(d) // 2] + b"#" * 40 + d[len(d) // 2 + 40:]),
])
def test_a_damaged_journal_is_cut_back_to_its_intact_records(finished_search, tmp_path, capsys,
                                                             name, damage):
    _, err = damage_and_rerun(finished_search, tmp_path, capsys, damage)
    assert "intact records" in err and "moved to journal.log.damaged-" in err, err
    assert len(list((tmp_path / "out").glob("journal.log.damaged-*"))) == 1


# ---- checkpoints ------------------------------------------------------------------------------
def copy_run(run_dir, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(run_dir, out)
    return out


def test_damaged_weights_are_refused_not_used(run_dir, tmp_path, capsys):
    out = copy_run(run_dir, tmp_path)
    model = out / "model.safetensors"
    data = bytearray(model.read_bytes())
    data[-10] ^= 0x40  # a bit of the last tensor's bytes: still a valid file
    model.write_bytes(bytes(data))
    one_line(capsys, ["eval", out], "tensor bytes do not match the digest")
    Image.new("L", (8, 8), 100).save(tmp_path / "x.png")
    one_line(capsys, ["predict", out, tmp_path / "x.png", "-o", tmp_path / "y.png"],
             "damaged checkpoint")


def test_metadata_edited_by_hand_is_refused_as_damaged(run_dir, tmp_path, capsys):
    out = copy_run(run_dir, tmp_path)
    rewrite_metadata(out / "model.safetensors", resign=False, model_config={"depth": 3})
    one_line(capsys, ["eval", out], "its metadata (model config, task or vocabulary) does not "
                                    "match the digest")


@pytest.mark.parametrize("key, change, match", [
    ("task", {"image_shape": [1, 9, 9]}, "takes 81 inputs and 81 outputs, the model 64 and 64"),
    ("task", {"image_shape": [1, 100000, 100000]}, "takes 10000000000 inputs"),
    ("model_config", {"depth": 100_000_000}, "depth 100000000: at most 10,000 blocks"),
    ("model_config", {"norm": "sometimes"}, "stored model config or task is invalid: norm "),
    ("model_config", {"skip_dim": 100_000_000}, "skip-dim 100000000: at most"),
])
def test_absurd_checkpoint_metadata_is_one_line(run_dir, tmp_path, capsys, key, change, match):
    out = copy_run(run_dir, tmp_path)
    rewrite_metadata(out / "model.safetensors", **{key: change})
    Image.new("L", (8, 8), 100).save(tmp_path / "x.png")
    one_line(capsys, ["predict", out, tmp_path / "x.png", "-o", tmp_path / "y.png"], match)
    one_line(capsys, ["eval", out], match)
