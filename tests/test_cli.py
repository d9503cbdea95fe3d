"""Every user error: exit status 2 and one line on stderr, no traceback."""

import json
import shutil
import subprocess
import sys

import pytest

from hourglass.cli.main import main

ARCH = ["--skip-dim", "64", "--inner-dim", "8", "--depth", "2"]
TRAIN = ["train", "--task", "denoise", "--dataset", "digits", *ARCH, "--epochs", "2", "--quiet"]


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hourglass", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def cli(*argv) -> int:
    return main([str(a) for a in argv])


def one_line_error(capsys, argv, match):
    with pytest.raises(SystemExit) as e:  # argparse's own errors exit, ours return
        raise SystemExit(main([str(a) for a in argv]))
    err = capsys.readouterr().err
    assert e.value.code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert match in err, err


def test_params_prints_the_counts_as_json(capsys):
    assert main(["params", "--task", "denoise", "--dataset", "mnist", "--skip-dim", "785",
                 "--inner-dim", "115", "--depth", "4", "--input-proj", "fixed"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "params": 1337640, "frozen_params": 615440, "embedding_params": 0,
        "flops_per_sample": 3906160}


@pytest.mark.parametrize("argv,match", [
    (["params", "--skip-dim", "784", "--inner-dim", "785", "--depth", "1", "--shape",
      "hourglass"], "--shape hourglass needs every inner-dim < skip-dim"),
    (["params", "--skip-dim", "0", "--inner-dim", "8", "--depth", "2"], "skip-dim must be"),
    (["params", "--skip-dim", "64", "--inner-dim", "8", "--depth", "-3"], "depth must be"),
    (["params", "--skip-dim", "64", "--inner-dim", "8,x", "--depth", "2"], "one per block"),
    (["params", "--task", "inpaint", *ARCH], "invalid choice: 'inpaint'"),
    (["params", "--dataset", "svhn", *ARCH], "unknown dataset 'svhn'"),
    (["params", "--input-proj", "identity", "--skip-dim", "100", "--inner-dim", "8", "--depth",
      "2"], "identity needs skip-dim = input size 64"),
    (["train", "--dataset", "mnist", "--data-dir", "/nonexistent", *ARCH, "--out", "x"],
     "hourglass data download mnist"),
    (["eval", "/nonexistent/run"], "is not a training run"),
    (["data", "download", "imagenet32", "--data-dir", "/tmp"], "image-net.org"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, match):
    one_line_error(capsys, argv, match)


def test_damaged_data_files(capsys, data_dir, tmp_path):
    shutil.copytree(data_dir / "mnist", tmp_path / "mnist")
    images = tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[: 1 << 16])
    one_line_error(capsys, ["train", "--dataset", "mnist", "--data-dir", tmp_path, *ARCH,
                            "--out", tmp_path / "r"], "damaged")


def test_run_files_that_are_not_runs(capsys, tmp_path):
    assert cli(*TRAIN, "--out", tmp_path / "run") == 0
    capsys.readouterr()
    one_line_error(capsys, [*TRAIN, "--out", tmp_path / "run"], "pass --resume")
    (tmp_path / "run" / "model.safetensors").write_bytes(b"\x00" * 40)
    one_line_error(capsys, ["eval", tmp_path / "run"], "damaged or not a safetensors")
    one_line_error(capsys, ["predict", tmp_path / "run", tmp_path / "x.png", "-o",
                            tmp_path / "y.png"], "damaged or not a safetensors")
    (tmp_path / "run" / "config.json").write_text("{not json")
    one_line_error(capsys, ["eval", tmp_path / "run"], "damaged run config")


def test_undecodable_image_for_predict(capsys, tmp_path):
    assert cli(*TRAIN, "--out", tmp_path / "run") == 0
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n garbage")
    one_line_error(capsys, ["predict", tmp_path / "run", tmp_path / "photo.png", "-o",
                            tmp_path / "out.png"], "cannot decode image")
    one_line_error(capsys, ["predict", tmp_path / "run", tmp_path / "none.png", "-o",
                            tmp_path / "out.png"], "no such image file")


@pytest.mark.integration
def test_diverging_run_is_one_line_in_a_real_process(tmp_path):
    r = run_cli(*TRAIN, "--lr", "1e30", "--out", tmp_path / "run")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "training diverged" in r.stderr, r.stderr


@pytest.mark.integration
@pytest.mark.parametrize("argv,match", [
    ([*TRAIN, "--lr", "inf"], "--lr must be positive"),
    ([*TRAIN, "--seed", "-1"], "--seed must be between"),
    ([*TRAIN, "--threads", "0"], "--threads must be at least 1"),
    (["search", "space.toml"], "unknown keys colour"),
])
def test_bad_flags_and_spaces_are_refused_before_pytorch_loads(argv, match, tmp_path):
    (tmp_path / "space.toml").write_text('task = "denoise"\ncolour = 3\n')
    code = ("import sys; from hourglass.cli.main import main; code = main(sys.argv[1:]); "
            "print(sorted(m for m in ('torch', 'optuna') if m in sys.modules)); sys.exit(code)")
    r = subprocess.run([sys.executable, "-c", code, *argv, "--out", "o"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and match in r.stderr, r.stderr
    assert r.stdout.strip() == "[]", r.stdout


@pytest.mark.integration
def test_the_demo_command_writes_a_run_directory(tmp_path):
    # `make train-demo`'s command: 18.2 dB against the noisy input's 14.3 (a network that
    # does not learn, --lr 1e-12, ends at 7.5 dB)
    r = run_cli("train", "--task", "denoise", "--dataset", "digits", "--skip-dim", "256",
                "--inner-dim", "32", "--depth", "4", "--input-proj", "fixed", "--lr", "3e-3",
                "--quiet", "--out", tmp_path / "demo")
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout)
    assert metrics["test_psnr"] > metrics["baseline_psnr"] + 3
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == [
        ".hourglass.lock", "config.json", "data.json", "history.csv", "metrics.json",
        "model.safetensors", "samples.png"]


def test_a_variant_or_a_family_with_its_own_dims(capsys):
    # a variant states its task and dataset: the counts of the run that measured its result
    assert main(["params", "--variant", "vit-c10-conventional"]) == 0
    conventional = json.loads(capsys.readouterr().out)
    assert conventional == {"params": 1205642, "frozen_params": 0, "embedding_params": 14464,
                            "flops_per_sample": 164366848}
    # flags override the variant: its hourglass partner, written out
    assert main(["params", "--variant", "vit-c10-conventional", "--skip-dim", "192",
                 "--inner-dim", "127", "--sub-blocks", "2", "--attn-dim", "128"]) == 0
    assert main(["params", "--variant", "vit-c10-hourglass"]) == 0
    flags, variant = (json.loads(t) for t in
                      capsys.readouterr().out.replace("}\n{", "}\n\n{").split("\n\n"))
    assert flags == variant and variant["params"] == 1213246


def test_match_prints_the_other_shape_at_the_same_budget(capsys):
    assert main(["match", "--family", "vit", "--task", "classify", "--dataset", "cifar10",
                 "--skip-dim", "128", "--inner-dim", "512", "--depth", "4", "--depths", "4",
                 "--skip-dims", "192", "--tolerance", "0.01", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {(r["skip_dim"], r["inner_dim"], r["sub_blocks"]) for r in rows} == {
        (192, 127, 2), (192, 63, 4)}
    assert all(r["shape"] == "hourglass" and abs(r["ratio"] - 1) <= 0.01 for r in rows)


@pytest.mark.parametrize("argv,match", [
    (["params", "--depth", "2"], "give --skip-dim, --inner-dim (or a --variant)"),
    (["params", "--family", "vit", "--task", "classify", *ARCH, "--patch", "3"],
     "patch 3 does not divide the 8x8 input images"),
    (["match", "--family", "vit", "--task", "classify", *ARCH, "--patch", "2", "--tolerance",
      "1.5"], "--tolerance must be between 0 and 1"),
    (["compare", "--dataset", "moby-dick", "--out", "/nonexistent/x"],
     "moby-dick is a text: the denoise task needs images (a text trains language models"),
    (["compare", "--family", "lm", "--dataset", "digits", "--out", "/nonexistent/x"],
     "the lm task reads a text"),
    (["params", *ARCH, "--block", "hash:4", "--family", "vit", "--task", "classify"],
     "the block variants are the mlp family's"),
])
def test_family_errors_are_one_line(capsys, argv, match):
    one_line_error(capsys, argv, match)


@pytest.mark.parametrize("argv, match", [
    ([*TRAIN, "--engine", "stacked"], "--engine was removed"),
    ([*TRAIN, "--engine", "plain"], "every model trains on one autograd path"),
    (["search", "quick-denoise", "--population", "on"], "--population was removed"),
])
def test_removed_options_are_refused_saying_what_replaced_them(tmp_path, capsys, argv, match):
    one_line_error(capsys, [*argv, "--out", tmp_path / "r"], match)
    assert not (tmp_path / "r").exists()


def test_a_run_from_a_variant_records_its_name_not_the_variants_claimed_result():
    from hourglass.cli.main import config_from
    from hourglass.cli.parser import build_parser

    args = build_parser().parse_args(["train", "--variant", "vit-c10-conventional",
                                      "--epochs", "1", "--out", "x"])
    cfg = config_from(args)
    assert cfg.extra == {"variant": "vit-c10-conventional"} and cfg.epochs == 1
    assert (cfg.task, cfg.dataset, cfg.recipe, cfg.precision) == ("classify", "cifar10", 5, "bf16")
