"""Checkpoints are safetensors plus JSON: nothing is ever unpickled.

model.safetensors   the weights tested, with the model family and config in its metadata. A fixed
                    input projection is not in it: it is regenerated from the stored seed.
trainer.safetensors weights, AdamW state and the loop's counters after the last completed
                    epoch (for --resume); one file, so a kill never splits it from its counters.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from hourglass.core.errors import UserError
from hourglass.core.files import write_bytes_atomic
from hourglass.models.family import DEFAULT_FAMILY
from hourglass.models.registry import get_family
from hourglass.tasks.base import TrainingTask
from hourglass.tasks.build import task_from_meta
from hourglass.training.state import TrainState

FORMAT = "hourglass-mlp/1"
DIGEST_KEY = "sha256"  # the tensors'
META_DIGEST_KEY = "sha256_metadata"  # the metadata's, the tensors' digest included
MODEL_FILE = "model.safetensors"
TRAINER_FILE = "trainer.safetensors"
CONFIG_FILE = "config.json"
DATA_FILE = "data.json"  # the fingerprint of the data the run trained on (data/fingerprint.py)
METRICS_FILE = "metrics.json"


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}


def digest(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes, in name order: stored in the
    metadata, it lets a reader tell damaged weights from good ones."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{list(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def metadata_digest(meta: dict[str, str]) -> str:
    """sha256 over every metadata entry but the digests themselves (the model config, the
    task with a language model's vocabulary, the counters) and the tensors' digest: a
    vocabulary or config edited by hand is refused like a damaged weight."""
    h = hashlib.sha256()
    for key in sorted(k for k in meta if k != META_DIGEST_KEY):
        h.update(f"{key}\0{meta[key]}\0".encode())
    return h.hexdigest()


def _write(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
    meta = {**meta, DIGEST_KEY: digest(tensors)}
    write_bytes_atomic(path, save(tensors, metadata={**meta,
                                                     META_DIGEST_KEY: metadata_digest(meta)}))


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Every checkpoint reader's way in: the tensors and metadata, with their digests checked
    (a checkpoint written before a digest existed has none to check)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
            meta = dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(f"{path}: damaged or not a safetensors checkpoint ({e})") from e
    if DIGEST_KEY in meta and digest(tensors) != meta[DIGEST_KEY]:
        raise UserError(f"{path}: damaged checkpoint: its tensor bytes do not match the digest "
                        "stored with them; retrain, or restore the file from a copy")
    if META_DIGEST_KEY in meta and metadata_digest(meta) != meta[META_DIGEST_KEY]:
        raise UserError(f"{path}: damaged checkpoint: its metadata (model config, task or "
                        "vocabulary) does not match the digest stored with it; retrain, or "
                        "restore the file from a copy")
    return tensors, meta


def save_model(path: Path, model: torch.nn.Module, task: TrainingTask, family: str) -> None:
    """The weights, with what it takes to use them alone: model family, config and task (a
    language model's with its vocabulary)."""
    meta = {"format": FORMAT, "family": family,
            "model_config": json.dumps(model.cfg.to_dict()), "task": json.dumps(task.to_meta())}
    _write(path, _state(model), meta)


def load_model(path: Path) -> tuple[torch.nn.Module, TrainingTask]:
    """The model (in eval mode) and the task it was trained for; a checkpoint written before
    families existed holds an MLP."""
    tensors, meta = _read(path)
    if meta.get("format") != FORMAT or "model_config" not in meta or "task" not in meta:
        raise UserError(f"{path}: not an hourglass-mlp checkpoint (format {meta.get('format')})")
    try:
        family = get_family(meta.get("family", DEFAULT_FAMILY))
        # sizes are checked by the config, before anything is built
        cfg = family.config_from_dict(json.loads(meta["model_config"]))
        task = task_from_meta(json.loads(meta["task"]), cfg)
        model = family.build(cfg)
        model.load_state_dict(tensors, strict=True)
    except UserError as e:
        raise UserError(f"{path}: its stored model config or task is invalid: {e}") from e
    except (RuntimeError, TypeError, KeyError, ValueError, json.JSONDecodeError) as e:
        raise UserError(f"{path}: weights do not match the stored model config ({e})") from e
    return model.eval(), task


def save_trainer(path: Path, model: torch.nn.Module, optimizer_state: dict[str, torch.Tensor],
                 state: TrainState) -> None:
    """``optimizer_state``: AdamW's per-parameter state as {"<param index>.<name>": tensor}."""
    tensors = {f"model.{k}": v for k, v in _state(model).items()}
    tensors.update({f"optim.{k}": v.contiguous() for k, v in optimizer_state.items()})
    _write(path, tensors, {"format": FORMAT, "counters": state.to_json()})


def load_trainer(path: Path, model: torch.nn.Module
                 ) -> tuple[dict[str, torch.Tensor], TrainState]:
    """Loads the weights into ``model``; returns the optimizer state and the run's state."""
    tensors, meta = _read(path)
    if meta.get("format") != FORMAT or "counters" not in meta:
        raise UserError(f"{path}: not an hourglass-mlp trainer checkpoint")
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    optim = {k[6:]: v for k, v in tensors.items() if k.startswith("optim.")}
    return optim, TrainState.from_json(meta["counters"], str(path))


def read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as e:
        raise UserError(f"{path.parent} is not a training run (no {path.name}); pass the --out "
                        "folder of `hourglass train`") from e
    except (json.JSONDecodeError, OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: damaged {what} ({e})") from e
