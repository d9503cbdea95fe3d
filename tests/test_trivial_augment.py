"""TrivialAugment, batched: each operation against PIL where PIL defines it, the geometric
ones against exact shifts, and the draws against the generator."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from hourglass.data.trivial_augment import OPS, _apply, trivial_augment


def images(n=4, c=3, h=12, w=10, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, c, h, w), generator=g, dtype=torch.uint8)
    x[1] = x[1] // 4 + 100  # a low-contrast image for autocontrast and equalize
    return x


def pil(x: torch.Tensor) -> Image.Image:
    return Image.fromarray(x.permute(1, 2, 0).numpy())


def back(im: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.array(im)).permute(2, 0, 1).float()


@pytest.mark.parametrize("op,reference", [
    ("equalize", lambda im, m: ImageOps.equalize(im)),
    ("autocontrast", lambda im, m: ImageOps.autocontrast(im)),
    ("posterize", lambda im, m: ImageOps.posterize(im, int(m))),
    ("solarize", lambda im, m: ImageOps.solarize(im, int(m))),
])
def test_the_pixel_operations_are_pil_s(op, reference):
    x = images()
    mag = torch.tensor([8.0, 6.0, 4.0, 2.0]) if op == "posterize" else \
        torch.tensor([255.0, 200.0, 128.0, 0.0])
    out = _apply(x.float(), op, mag)
    for i in range(len(x)):
        expected = back(reference(pil(x[i]), float(mag[i])))
        # autocontrast: torchvision's formula, which PIL's float order leaves a unit lower at
        # some values
        tolerance = 1 if op == "autocontrast" else 0
        assert (out[i] - expected).abs().max() <= tolerance, (op, i)


def test_translate_moves_whole_pixels_and_fills_black():
    x = images().float()
    out = _apply(x, "translate_x", torch.tensor([3.0, -2.0, 0.0, 1.0]))
    assert torch.equal(out[0, :, :, 3:], x[0, :, :, :-3]) and (out[0, :, :, :3] == 0).all()
    assert torch.equal(out[1, :, :, :-2], x[1, :, :, 2:]) and (out[1, :, :, -2:] == 0).all()
    assert torch.equal(out[2], x[2])


def test_each_image_gets_one_drawn_operation_and_the_generator_decides():
    x = images(n=64)
    a = trivial_augment(x, torch.Generator().manual_seed(1))
    b = trivial_augment(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.dtype == torch.uint8 and a.shape == x.shape
    changed = (a != x).flatten(1).any(1).double().mean()
    assert 0.5 < changed < 1.0  # identity (and zero magnitudes) leave some untouched
    assert len(OPS) == 14
