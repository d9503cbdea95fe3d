"""Real models on real data (../shared/data): the numbers a user relies on."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from hourglass import TrainConfig, evaluate, predict, train
from hourglass.tasks.image import image_metrics

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mnist_denoiser(data_dir, tmp_path_factory):
    """Skip 785 / inner 115 / depth 4, fixed W_in, lr 1e-3, batch 128, one epoch."""
    out = tmp_path_factory.mktemp("runs") / "denoise"
    cfg = TrainConfig(task="denoise", dataset="mnist", data_dir=str(data_dir), skip_dim=785,
                      inner_dim=115, depth=4, input_proj="fixed", lr=1e-3, batch_size=128,
                      epochs=1)
    return out, train(cfg, out, progress=False)


def test_mnist_denoise_beats_the_noisy_input_by_3db_after_one_epoch(mnist_denoiser):
    _, m = mnist_denoiser
    assert m["test_psnr"] - m["baseline_psnr"] >= 3.0, m
    assert m["params"] == 1_337_640 and m["frozen_params"] == 615_440


def test_eval_reproduces_metrics_json_exactly(mnist_denoiser):
    out, m = mnist_denoiser
    again = evaluate(out)
    assert again["test_psnr"] == m["test_psnr"]
    assert json.loads((out / "metrics.json").read_text())["test_psnr"] == m["test_psnr"]


def test_predict_denoises_a_users_png(mnist_denoiser, mnist, tmp_path):
    out, _ = mnist_denoiser
    clean = mnist.test.images[:8].float() / 255
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(5))
    noisy = (clean + 0.25 * noise).clamp(0, 1)
    gains = []
    for i in range(len(clean)):
        path = tmp_path / f"noisy{i}.png"
        Image.fromarray((noisy[i, 0].numpy() * 255).round().astype(np.uint8), "L").save(path)
        result = predict(out, path, tmp_path / f"clean{i}.png")
        img = Image.open(result["output"])
        assert img.size == (28, 28) and img.mode == "L"
        target = clean[i].flatten()[None]
        got = image_metrics(png_as_row(result["output"]), target)["psnr"]
        before = image_metrics(png_as_row(path), target)["psnr"]
        assert got > before, (i, got, before)
        gains.append(got - before)
    assert sum(gains) / len(gains) > 2.0, gains


def png_as_row(path) -> torch.Tensor:
    return torch.from_numpy(np.asarray(Image.open(path), dtype=np.float32) / 255).flatten()[None]


@pytest.mark.parametrize("task,epochs,floor", [("superres", 8, 1.0), ("prototype", 2, 3.0)])
def test_other_paper_tasks_on_mnist_beat_their_baselines(task, epochs, floor, data_dir,
                                                         tmp_path):
    cfg = TrainConfig(task=task, dataset="mnist", data_dir=str(data_dir), skip_dim=400,
                      inner_dim=64, depth=2, input_proj="learned", lr=3e-3, epochs=epochs,
                      train_limit=20_000, eval_limit=2_000)
    m = train(cfg, tmp_path / task, progress=False)
    assert m["test_psnr"] > m["baseline_psnr"] + floor, m


def test_superres_predict_returns_the_full_size(data_dir, tmp_path):
    cfg = TrainConfig(task="superres", dataset="fashion-mnist", data_dir=str(data_dir),
                      skip_dim=300, inner_dim=32, depth=2, epochs=1, train_limit=5_000,
                      eval_limit=1_000)
    train(cfg, tmp_path / "sr", progress=False)
    Image.fromarray(np.full((40, 30), 128, np.uint8), "L").save(tmp_path / "small.png")
    result = predict(tmp_path / "sr", tmp_path / "small.png", tmp_path / "big.png")
    assert result["model_input_size"] == [14, 14] and result["image_size"] == [40, 30]
    assert result["converted"] == ["resized 40x30 to 14x14 (bicubic)"]
    assert Image.open(tmp_path / "big.png").size == (28, 28)


def test_cifar10_jpeg_folder_trains(cifar_dir, tmp_path):
    cfg = TrainConfig(task="denoise", dataset="cifar10", data_dir=str(cifar_dir),
                      skip_dim=1024, inner_dim=64, depth=2, input_proj="fixed", epochs=1,
                      train_limit=5_000, eval_limit=1_000)
    m = train(cfg, tmp_path / "c", progress=False)
    assert m["test_psnr"] > m["baseline_psnr"] + 2, m
    assert Image.open(tmp_path / "c" / "samples.png").mode == "RGB"


def test_a_vit_learns_cifar10_classes_on_a_sampled_test_set(cifar_dir, tmp_path):
    # the JPEG archive's test split is in class order: --eval-limit samples it (every class)
    # rather than testing on the first classes alone
    cfg = TrainConfig(task="classify", dataset="cifar10", data_dir=str(cifar_dir), family="vit",
                      skip_dim=64, inner_dim=256, depth=2, epochs=3, train_limit=4_000,
                      eval_limit=1_000)
    m = train(cfg, tmp_path / "vit", progress=False)
    assert m["baseline_accuracy"] < 0.15  # the most frequent class is a tenth of the sample
    assert m["test_accuracy"] > 0.2, m  # chance is 0.1; 3 epochs of 4,000 images gave 0.28
