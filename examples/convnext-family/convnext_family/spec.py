"""A ConvNeXt-style image classifier as an hourglass-mlp family: the arithmetic (no PyTorch).

    stem      patch x patch convolution, stride patch: C -> d channels (the embedding)
    layer     x = x + DWConv_k(Norm(x))                 k x k depthwise, spatial mixing
              x = x + FFN_j(Norm_j(x))   j = 1..K       d -> d_h -> d per position
    head      mean over positions, Norm, linear to the classes

The feed-forward is hourglass-mlp's ResidualFFN, so the network's shape is its MLP ratio
d_h / d: above 1 conventional (ConvNeXt's 4), below 1 an hourglass (wide stream, narrow
sub-blocks, K of them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from hourglass import UserError
from hourglass.models import Dim, Family, check_shape, register, shape_of, space_name

MAX_WIDTH = 100_000


@dataclass
class ConvNeXtConfig:
    image_shape: tuple[int, int, int]  # (C, H, W) the model reads
    out_dim: int  # classes
    skip_dim: int  # d: channels of the residual stream
    inner_dim: int  # d_h: width inside each feed-forward sub-block
    depth: int  # layers
    sub_blocks: int = 1  # K
    patch: int = 2  # stem stride
    kernel: int = 7  # depthwise kernel side (odd)

    def __post_init__(self) -> None:
        self.image_shape = tuple(int(v) for v in self.image_shape)
        for name in ("out_dim", "skip_dim", "inner_dim", "depth", "sub_blocks", "patch",
                     "kernel"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise UserError(f"{name.replace('_', '-')} must be a positive integer, got "
                                f"{value!r}")
        if max(self.skip_dim, self.inner_dim) > MAX_WIDTH:
            raise UserError(f"widths above {MAX_WIDTH:,} are refused")
        _, h, w = self.image_shape
        if h % self.patch or w % self.patch:
            raise UserError(f"patch {self.patch} does not divide the {h}x{w} images")
        if self.kernel % 2 == 0:
            raise UserError(f"kernel {self.kernel}: take an odd side, so the map keeps its size")

    @property
    def in_dim(self) -> int:
        c, h, w = self.image_shape
        return c * h * w

    @property
    def grid(self) -> tuple[int, int]:
        _, h, w = self.image_shape
        return h // self.patch, w // self.patch

    @property
    def shape(self) -> str:
        return shape_of(self.skip_dim, [self.inner_dim])

    def to_dict(self) -> dict:
        return asdict(self)


def count_params(cfg: ConvNeXtConfig) -> dict[str, int]:
    """Trainable parameters (the stem apart, as the embedding) and forward FLOPs per sample:
    2 x the multiply-adds of every convolution and matmul; norms, GELU, biases and the pool
    are left out, as for every family."""
    c = cfg.image_shape[0]
    d, f, k, p = cfg.skip_dim, cfg.inner_dim, cfg.kernel, cfg.patch
    n = cfg.grid[0] * cfg.grid[1]
    stem = c * p * p * d + d
    ffn = 2 * d + d * f + f + f * d + d  # LayerNorm, fc1, fc2
    layer = 2 * d + d * k * k + d + cfg.sub_blocks * ffn
    head = 2 * d + d * cfg.out_dim + cfg.out_dim
    macs = n * c * p * p * d + cfg.depth * n * (d * k * k + cfg.sub_blocks * 2 * d * f) + \
        d * cfg.out_dim
    return {"params": stem + cfg.depth * layer + head, "frozen_params": 0,
            "embedding_params": stem, "flops_per_sample": 2 * macs}


def make_config(run, task) -> ConvNeXtConfig:
    """The network a run trains (``run``: its TrainConfig; ``task``: its sizes)."""
    if run.input_proj != "learned" or run.proj_seed is not None:
        raise UserError("--input-proj and --proj-seed are the MLP's; the ConvNeXt's stem is "
                        "always learned")
    if isinstance(run.inner_dim, list):
        raise UserError("the ConvNeXt takes one --inner-dim for every layer")
    cfg = ConvNeXtConfig(image_shape=task.input_image_shape, out_dim=task.out_dim,
                         skip_dim=run.skip_dim, inner_dim=run.inner_dim, depth=run.depth,
                         **{d.name: run.arch.get(d.name, d.default) for d in CONVNEXT.dims[3:]})
    check_shape(run.shape, cfg.shape, cfg.skip_dim, cfg.inner_dim)
    return cfg


def quick_space() -> dict:
    """Both shapes on digits (8x8, patch 2: a 4x4 map), sized for a minute of 2 cores (the
    conventional 24/96/1 reaches 96.8% in 10 epochs at 3e-3, 98.0% at 1e-2)."""
    common = {"patch": [2], "kernel": [3], "lr": [3e-3, 1e-2]}
    return {
        "task": "classify", "dataset": "digits", "family": "convnext", "epochs": 10,
        "batch_size": 32, "seeds": [0],
        "hourglass": {"skip_dim": [48, 96], "inner_dim": [16], "depth": [1, 2],
                      "sub_blocks": [1, 2], **common},
        "conventional": {"skip_dim": [16, 32], "inner_dim": [64, 128], "depth": [1, 2],
                         **common},
    }


def compare_space(task: str, dataset: str, shape) -> dict:
    """`hourglass compare --family convnext`: the quick space on digits; elsewhere the same
    widths at ConvNeXt's 7x7 kernel and a stride-4 stem."""
    space = quick_space()
    if dataset == "digits":
        return {"name": "quick-convnext", **space}
    for shape_space in (space["hourglass"], space["conventional"]):
        shape_space.update(patch=[4], kernel=[7])
    return {**space, "name": space_name("compare-convnext", dataset), "dataset": dataset}


CONVNEXT = register(Family(
    name="convnext",
    summary="ConvNeXt-style classifier (plug-in example): depthwise convolution, then K "
            "residual feed-forward sub-blocks per layer; the MLP ratio sets its shape",
    dims=(Dim("skip_dim", "z", "d: channels of the residual stream"),
          Dim("inner_dim", "h", "d_h: width inside each feed-forward sub-block"),
          Dim("depth", "L", "layers (depthwise convolution + K sub-blocks each)"),
          Dim("sub_blocks", "K", "K: feed-forward sub-blocks per layer", 1),
          Dim("patch", "p", "stem stride in pixels", 2),
          Dim("kernel", "k", "depthwise kernel side (odd)", 7)),
    tasks=("classify",),
    make_config=make_config,
    config_from_dict=lambda d: ConvNeXtConfig(**{**d, "image_shape": tuple(d["image_shape"])}),
    counts=count_params,
    module=f"{__package__}.net:ConvNeXt",
    recipe=lambda task, dataset, version: {"augment": "none"},
    default_task="classify",
    spaces={"quick-convnext": quick_space},
    compare_space=compare_space,
    examples={"hourglass": {"skip_dim": 48, "inner_dim": 12, "depth": 2, "sub_blocks": 2,
                            "kernel": 3},
              "conventional": {"skip_dim": 24, "inner_dim": 96, "depth": 2, "kernel": 3}}))
