"""A task from a run's settings, or from what a checkpoint stored of it: the one place that
picks the task's class (image.Task or text.LMTask) by what the task reads."""

from __future__ import annotations

from hourglass.core.errors import UserError
from hourglass.tasks.base import LMShape, TaskShape, task_spec


def make_task(name: str, dataset: str, image_shape: tuple[int, int, int] | None,
              num_classes: int, *, context: int | None = None, noise_std: float = 0.25,
              label_smoothing: float = 0.0, input_norm: str = "none", mixup: float = 0.0,
              cutmix: float = 0.0, tensors: bool = True, chars: str = ""):
    """The task ``name`` on ``dataset`` (an image shape, or None for a text whose vocabulary
    is ``num_classes`` characters, ``chars``): with ``tensors`` its runtime object (PyTorch),
    else just its sizes (TaskShape or LMShape)."""
    spec = task_spec(name)
    if spec.reads_text:
        if image_shape is not None:
            raise UserError(f"the {name} task reads a text; {dataset} holds images (choose "
                            "moby-dick, tinyshakespeare or text:PATH)")
        if not tensors:
            return LMShape(num_classes, context)
        from hourglass.tasks.text import LMTask  # PyTorch: only where tensors are needed

        return LMTask(num_classes, context, chars=chars)
    if image_shape is None:
        raise UserError(f"{dataset} is a text: the {name} task needs images (a text trains "
                        "language models: --task lm --family lm)")
    if (mixup or cutmix) and not spec.classifies:
        raise UserError(f"--mixup and --cutmix mix labels; the {name} task has none")
    if input_norm != "none" and not spec.classifies:
        raise UserError(f"--input-norm {input_norm}: standardised inputs are for "
                        f"classification; the {name} task's inputs and targets share a scale")
    if num_classes < spec.min_classes:
        raise UserError(f"{dataset}: {num_classes} class; {name} needs at least "
                        f"{spec.min_classes} (a single class scores 100% against a 100% "
                        "baseline)")
    if not tensors:
        return TaskShape(name, image_shape, num_classes, noise_std=noise_std)
    from hourglass.tasks.image import Task

    return Task(name, image_shape, num_classes, noise_std=noise_std,
                label_smoothing=label_smoothing, input_norm=input_norm, mixup=mixup,
                cutmix=cutmix)


def task_from_meta(t: dict, cfg):
    """The task a checkpoint stored (``to_meta``), checked against the model config ``cfg`` it
    was saved with (its in_dim and out_dim, or a language model's vocabulary and context)."""
    if task_spec(t["name"]).reads_text:
        from hourglass.tasks.text import LMTask

        task = LMTask(int(t["vocab"]), int(t["context"]), chars=str(t["chars"]))
        if len(task.chars) != task.vocab or (task.vocab, task.context) != (cfg.vocab,
                                                                           cfg.context):
            raise UserError(f"task {task.name} with {len(task.chars)} characters in a "
                            f"vocabulary of {task.vocab}, context {task.context}; the model: "
                            f"vocabulary {cfg.vocab}, context {cfg.context}")
        return task
    from hourglass.tasks.image import Task

    task = Task(t["name"], tuple(int(d) for d in t["image_shape"]), t["num_classes"],
                t["noise_std"], input_norm=t.get("input_norm", "none"),
                channel_mean=t.get("channel_mean"), channel_std=t.get("channel_std"))
    if (task.in_dim, task.out_dim) != (cfg.in_dim, cfg.out_dim):
        raise UserError(f"task {task.name} on images {list(task.image_shape)} takes "
                        f"{task.in_dim} inputs and {task.out_dim} outputs, the model "
                        f"{cfg.in_dim} and {cfg.out_dim}")
    return task
