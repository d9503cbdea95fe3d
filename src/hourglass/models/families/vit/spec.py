"""The Vision Transformer family: configuration, exact parameter and FLOP counts, registration.
Arithmetic only, no PyTorch (the module is in vit.py).

A ViT at native resolution: the image is cut into patch x patch tokens (CIFAR-10 32x32 with
patch 4: 64 tokens), each layer is attention followed by K residual feed-forward sub-blocks,

    x = x + Attn(Norm(x))                                   width attn_dim = heads x head dim
    x = x + FFN_k(Norm_k(x))   for k = 1..K                 d_model -> d_h -> d_model

and the output is a class (mean over tokens, then a linear head) or, for the image tasks, each
token's patch of the target image (a per-patch linear head). Conventional: K = 1, d_h = 4
d_model. Hourglass (the authors' follow-up, arXiv 2602.06471): a wider d_model, d_h below it,
K sub-blocks, and the attention width set on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from hourglass.core.errors import UserError
from hourglass.models.family import MUON_LR_PER_LR, Dim, Family, check_shape, register
from hourglass.models.layers.patch_config import (
    PatchConfig,
    io_counts,
    patch_make_config,
    patch_recipe,
)

from .spaces import SPACES, compare_space

# Recipe 5, for classification: Muon on the layers' weight matrices (AdamW on the rest), its
# lr 5x AdamW's (0.005 at the default 1e-3). At Muon's usual 0.02 the attention collapsed
# (docs/results section 9: logits 5x a healthy run's, the ViT has no QK-norm) and training
# stalled near 40%; at 0.005 the conventional ViT reached 78.53% in 10 epochs (bf16, seed 0),
# against 70.86% with AdamW.
CLASSIFY_RECIPE_5 = {"optimizer": "muon", MUON_LR_PER_LR: 5.0}


def vit_recipe(task, dataset: str, version: int) -> dict:
    """The patch models' recipe (patch_recipe), and from recipe 5 CLASSIFY_RECIPE_5."""
    return {**patch_recipe(task, dataset, version),
            **(CLASSIFY_RECIPE_5 if task.classifies and version >= 5 else {})}


@dataclass
class ViTConfig(PatchConfig):
    """PatchConfig's fields (skip_dim = d_model), and the attention's."""

    attn_dim: int = 0  # heads x head dim; 0: d_model
    heads: int = 4
    conv: int = 0  # conv tokenizer stages (CCT's) in place of the linear patch embedding
    drop_path: float = 0.0  # stochastic depth at the last layer (0 at the first, linear)

    FAMILY = "ViT"
    POSITIVE = (*PatchConfig.POSITIVE, "heads")
    WIDTHS = ("attn_dim",)

    def check(self) -> None:
        if not isinstance(self.conv, int) or isinstance(self.conv, bool) or \
                not 0 <= self.conv <= MAX_CONV:
            raise UserError(f"conv {self.conv!r}: 0 (a linear patch embedding) to {MAX_CONV} "
                            "tokenizer stages")
        if self.conv and self.patch != 2 ** self.conv:
            raise UserError(f"conv {self.conv}: each stage halves the image, so a token covers "
                            f"{2 ** self.conv} pixels a side; set patch {2 ** self.conv}, "
                            f"not {self.patch}")
        if self.attention % self.heads:
            raise UserError(f"attention width {self.attention} is not a multiple of "
                            f"{self.heads} heads")

    def counts(self) -> dict[str, int]:
        return count_params(self)

    @property
    def attention(self) -> int:
        return self.attn_dim or self.skip_dim


MAX_CONV = 4
CONV_PLANES = 64  # CCT's in_planes: the channels of every tokenizer stage but the last


def conv_widths(stages: int, width: int) -> list[int]:
    """The channels each tokenizer stage puts out: CONV_PLANES, then ``width`` (d_model) at
    the last, as CCT's Tokenizer (src/utils/tokenizer.py, n_filter_list)."""
    return [CONV_PLANES] * (stages - 1) + [width]


def conv_tokenizer_counts(image_shape: tuple[int, int, int], stages: int,
                          width: int) -> tuple[int, int]:
    """(parameters, forward FLOPs) of CCT's convolutional tokenizer (arXiv 2104.05704): each
    stage a 3x3 convolution without bias at stride 1 (conv_widths channels out), a ReLU and a
    3x3 max-pool at stride 2. The pools and ReLUs are left out of the FLOPs."""
    c, h, w = image_shape
    params = flops = 0
    for out in conv_widths(stages, width):
        params += c * 9 * out
        flops += 2 * h * w * c * 9 * out
        c, h, w = out, (h + 1) // 2, (w + 1) // 2
    return params, flops


def count_params(cfg: ViTConfig) -> dict[str, int]:
    """Trainable parameters (the embedding, patch projection or conv tokenizer and positions,
    apart) and forward FLOPs per sample: 2 x multiply-adds of every matmul and convolution,
    attention's two included (2 N^2 a each); norms, softmax, activations, biases and the pools
    are left out."""
    d, n, a, f = cfg.skip_dim, cfg.tokens, cfg.attention, cfg.inner_dim
    io = io_counts(cfg.image_shape, cfg.patch, d, cfg.out_dim, cfg.classify, positions=True)
    if cfg.conv:  # the tokenizer in place of the linear patch projection (positions kept)
        c, p = cfg.image_shape[0], cfg.patch
        conv_params, conv_flops = conv_tokenizer_counts(cfg.image_shape, cfg.conv, d)
        io = {**io, "embedding": io["embedding"] - (c * p * p * d + d) + conv_params,
              "flops": io["flops"] - 2 * n * c * p * p * d + conv_flops}
    norm = 2 * d if cfg.norm == "layer" else d
    up = 2 * f if cfg.act == "swiglu" else f  # SwiGLU: gate and value projections
    ffn = norm + d * up + up + f * d + d
    layer = norm + d * 3 * a + 3 * a + a * d + d + cfg.sub_blocks * ffn
    embedding = io["embedding"]
    trainable = embedding + cfg.depth * layer + norm + io["head"]
    mm_layer = d * 3 * a + a * d + cfg.sub_blocks * (d * up + f * d)
    flops = io["flops"] + cfg.depth * (2 * n * mm_layer + 4 * n * n * a)
    return {"params": trainable, "frozen_params": 0, "embedding_params": embedding,
            "flops_per_sample": flops}


def make_config(run, task) -> ViTConfig:
    """The ViT a run trains (``run``: a TrainConfig; ``task``: its TaskShape)."""
    cfg = patch_make_config(ViTConfig, VIT, run, task, drop_path=run.drop_path or 0.0)
    check_shape(run.shape, cfg.shape, cfg.skip_dim, cfg.inner_dim)
    return cfg


def _from_dict(d: dict) -> ViTConfig:
    return ViTConfig(**{**d, "image_shape": tuple(d["image_shape"])})


VIT = register(Family(
    name="vit",
    summary="Vision Transformer at native resolution: attention, then K residual feed-forward "
            "sub-blocks per layer; classification or per-patch image output",
    dims=(Dim("skip_dim", "z", "d_model: width of the residual stream"),
          Dim("inner_dim", "h", "d_h: width inside each feed-forward sub-block"),
          Dim("depth", "L", "layers (attention + K sub-blocks each)"),
          Dim("sub_blocks", "K", "K: feed-forward sub-blocks per layer", 1),
          Dim("attn_dim", "a", "attention width, heads x head dim (0: d_model)", 0),
          Dim("heads", "nh", "attention heads", 4),
          Dim("patch", "p", "patch side in pixels", 4),
          Dim("conv", "cv", "conv tokenizer stages (CCT: 3x3 conv, ReLU, max-pool /2 each) in "
                            "place of the linear patch embedding; patch = 2^conv (0: linear)",
              0, optional=True)),
    tasks=("classify", "denoise", "superres", "prototype"),
    make_config=make_config, config_from_dict=_from_dict, counts=count_params,
    module=f"{__package__}.net:VisionTransformer",
    default_task="classify",
    recipe=vit_recipe, spaces=SPACES, compare_space=compare_space, takes_drop_path=True,
    examples={"hourglass": {"skip_dim": 48, "inner_dim": 12, "depth": 2, "sub_blocks": 2,
                            "attn_dim": 32, "heads": 2},
              "conventional": {"skip_dim": 32, "inner_dim": 128, "depth": 2, "heads": 2}}),
    variants={
        # configs are code and say what they reach, on the recipe they pin (measured: README,
        # Measured results; docs/results/README.md section 9)
        "vit-c10-conventional": {
            "task": "classify", "dataset": "cifar10", "skip_dim": 128, "inner_dim": 512,
            "depth": 6, "arch": {"heads": 4, "patch": 4}, "epochs": 10, "recipe": 5,
            "precision": "bf16",
            "extra": {"expected": "CIFAR-10 classify, recipe 5, bf16, 10 epochs: 78.53% test "
                                  "accuracy (eval 77.54%); 2,703 s of training on 1 thread "
                                  "of a shared 2-core CPU with bfloat16 units; --precision "
                                  "fp32, on an AVX2 CPU without them: 78.51% in 4,677 s "
                                  "(recipe 4, fp32: 71.31%)"}},
        # the hourglass at the same non-embedding parameters and FLOPs (hourglass match):
        # d_model x1.5, d_h just below d_model, K = 2, attention at the conventional width
        "vit-c10-hourglass": {
            "task": "classify", "dataset": "cifar10", "skip_dim": 192, "inner_dim": 127,
            "depth": 6, "arch": {"sub_blocks": 2, "attn_dim": 128, "heads": 4, "patch": 4},
            "epochs": 10, "recipe": 5, "precision": "bf16",
            "extra": {"expected": "CIFAR-10 classify, recipe 5, bf16, 10 epochs: 78.96% test "
                                  "accuracy (eval 77.88%); 2,782 s of training on 1 thread "
                                  "of a shared 2-core CPU (recipe 4, fp32: 67.43%)"}},
    })
