"""Apply a trained model to a user's own image file."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from hourglass.core.errors import UserError
from hourglass.data.folder import decode_image, describe_image
from hourglass.tasks.image import to_float
from hourglass.training.checkpoint import MODEL_FILE, load_model
from hourglass.training.samples import to_pil


@torch.no_grad()
def predict(run_dir: str | Path, image: str | Path, out: str | Path | None = None) -> dict:
    """Denoise / super-resolve / map to a class prototype: the image is converted to the
    model's channels and input size (half size for superres), and the output image written to
    ``out``. Classify returns the class probabilities (``out`` is not needed)."""
    path = Path(run_dir) / MODEL_FILE
    if not path.is_file():
        raise UserError(f"{run_dir} is not a finished training run (no {MODEL_FILE})")
    model, task = load_model(path)
    if task.reads_text:
        raise UserError(f"{run_dir} holds a language model; `hourglass sample` generates "
                        "text with it")
    image = Path(image)
    if not image.is_file():
        raise UserError(f"{image}: no such image file")
    c, h, w = task.input_image_shape
    size, channels, bits = describe_image(image)
    converted = _conversions(size, channels, bits, (h, w), c)
    x = task.normalize(to_float(torch.from_numpy(decode_image(image, (h, w), c)))[None])
    x = x.flatten(1)
    y = model(x)
    about = {"image_size": list(size), "image_channels": channels, "image_bits": bits,
             "model_input_size": [h, w], "converted": converted}
    if converted:
        print(f"predict: {image.name}: {'; '.join(converted)}", file=sys.stderr)
    if not task.image_target:
        probs = F.softmax(y[0], dim=0)
        return {"class": int(probs.argmax()), "probabilities": [round(p, 6) for p in
                                                                 probs.tolist()], **about}
    if out is None:
        raise UserError("give -o OUT: where to write the output image")
    out = Path(out)
    try:
        to_pil(y.reshape(task.image_shape)).save(out)
    except (ValueError, OSError) as e:
        raise UserError(f"{out}: cannot write the image ({e}); use a .png or .jpg name") from e
    return {"output": str(out), "task": task.name, **about,
            "output_size": list(task.image_shape[1:])}


def _conversions(size: tuple[int, int], channels: int, bits: int, model_size: tuple[int, int],
                 model_channels: int) -> list[str]:
    """What the image undergoes to fit the model, in words (empty when nothing)."""
    names = {1: "grey", 3: "RGB"}
    out = []
    if size != model_size:
        out.append(f"resized {size[0]}x{size[1]} to {model_size[0]}x{model_size[1]} (bicubic)")
    if channels != model_channels:
        out.append(f"converted {names[channels]} to {names[model_channels]}")
    if bits != 8:
        out.append(f"scaled {bits}-bit values to 8 bits")
    return out
