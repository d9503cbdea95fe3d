import math

import pytest
import torch

from hourglass.core.errors import UserError
from hourglass.data import Split
from hourglass.tasks.image import Task, image_metrics, psnr_per_image, psnr_pooled, to_float


def small_split(n=6, shape=(1, 4, 4), seed=0) -> Split:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, *shape), generator=g, dtype=torch.uint8)
    return Split(images, torch.arange(n) % 3)


def test_pooled_psnr_is_per_batch_of_128_weighted_by_batch_size():
    mse = torch.cat([torch.full((128,), 0.01), torch.full((72,), 0.001)])
    expected = (128 * 20.0 + 72 * 30.0) / 200
    assert psnr_pooled(mse) == pytest.approx(expected, abs=1e-6)


def test_pooled_and_per_image_psnr_differ_as_they_should():
    mse = torch.tensor([0.1, 0.001])
    assert psnr_pooled(mse) == pytest.approx(10 * math.log10(1 / 0.0505))
    assert psnr_per_image(mse) == pytest.approx(20.0)  # mean of 10 dB and 30 dB


def test_perfect_prediction_does_not_crash():
    x = torch.rand(5, 10)
    assert image_metrics(x, x)["psnr"] > 150


def test_denoise_inputs_are_clamped_and_eval_noise_is_fixed():
    task = Task("denoise", (1, 4, 4), 3)
    split = small_split()
    a, b = task.split_inputs(split, "eval"), task.split_inputs(split, "eval")
    assert torch.equal(a, b)
    assert not torch.equal(a, task.split_inputs(split, "test"))
    assert a.min() >= 0 and a.max() <= 1
    noise_std = (a - to_float(split.images).flatten(1))[(a > 0) & (a < 1)].std()
    assert 0.15 < noise_std < 0.35


def test_denoise_training_noise_is_fresh_each_batch():
    task = Task("denoise", (1, 4, 4), 3)
    x = to_float(small_split().images)
    g = torch.Generator().manual_seed(0)
    assert not torch.equal(task.train_inputs(x, g), task.train_inputs(x, g))


def test_superres_downsamples_by_two_without_antialias():
    task = Task("superres", (1, 28, 28), 10)
    assert (task.in_dim, task.out_dim) == (196, 784)
    x = torch.rand(2, 1, 28, 28)
    ref = torch.nn.functional.interpolate(x, scale_factor=0.5, mode="bicubic", antialias=False)
    assert torch.equal(task.inputs(x), ref.flatten(1))


def test_prototype_target_is_the_first_training_image_of_the_class():
    split = small_split(n=9)
    task = Task("prototype", (1, 4, 4), 3)
    task.fit(split)
    for k in range(3):
        first = int((split.labels == k).nonzero()[0])
        assert torch.equal(task.prototypes[k], to_float(split.images[first]).flatten())
    y = task.targets(to_float(split.images), split.labels)
    assert torch.equal(y[4], task.prototypes[1])


def test_prototype_needs_every_class_in_training():
    task = Task("prototype", (1, 4, 4), 4)
    with pytest.raises(UserError, match="class 3 has no training image"):
        task.fit(small_split())


def test_baselines_are_what_doing_nothing_clever_scores():
    split = small_split(n=12)
    denoise = Task("denoise", (1, 4, 4), 3)
    noisy = denoise.split_inputs(split, "test")
    assert denoise.baseline(split, split, "test")["psnr"] == pytest.approx(
        image_metrics(noisy, to_float(split.images).flatten(1))["psnr"])
    classify = Task("classify", (1, 4, 4), 3)
    assert classify.baseline(split, split, "test")["accuracy"] == pytest.approx(4 / 12)


def test_classify_metrics():
    task = Task("classify", (1, 4, 4), 3)
    logits = torch.tensor([[5.0, 0, 0], [0, 5.0, 0], [0, 0, 5.0], [5.0, 0, 0]])
    m = task.metrics(logits, torch.tensor([0, 1, 2, 1]))
    assert m["accuracy"] == 0.75


def test_unknown_task_is_refused():
    with pytest.raises(UserError, match="unknown task 'inpaint'"):
        Task("inpaint", (1, 4, 4), 3)


def test_mixup_and_cutmix_mix_a_batch_with_its_reverse_and_say_how_much():
    from hourglass.data.augment import mix_batch

    x = torch.rand(6, 3, 8, 8)
    labels = torch.tensor([0, 1, 2, 3, 4, 5])
    gen = torch.Generator().manual_seed(3)
    mixed, soft = mix_batch(x, labels, 10, gen, mixup=0.4)
    lam = float(soft[0, 0])
    assert torch.allclose(mixed, lam * x + (1 - lam) * x.flip(0))
    assert torch.allclose(soft.sum(1), torch.ones(6))
    assert float(soft[0, 5]) == pytest.approx(1 - lam)
    again = mix_batch(x, labels, 10, torch.Generator().manual_seed(3), mixup=0.4)
    assert torch.equal(again[0], mixed)  # every draw from the generator
    cut, soft = mix_batch(x, labels, 10, torch.Generator().manual_seed(5), cutmix=1.0)
    pasted = (cut != x).any(1)  # pixels taken from the partner
    kept = 1 - pasted[0].double().mean().item()
    assert float(soft[0, 0]) == pytest.approx(kept)
    assert torch.equal(cut[pasted[:, None].expand_as(cut)], x.flip(0)[pasted[:, None]
                                                                     .expand_as(cut)])


def test_every_task_the_command_line_offers_is_declared():
    from hourglass.core.choices import IMAGE_TASKS, TASKS
    from hourglass.tasks.base import TASK_SPECS

    assert tuple(TASK_SPECS) == TASKS
    assert tuple(t for t, s in TASK_SPECS.items() if not s.reads_text) == IMAGE_TASKS
