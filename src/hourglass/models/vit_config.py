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

from dataclasses import asdict, dataclass

from hourglass.errors import UserError
from hourglass.models.family import Dim, Family, check_shape, register, shape_of
from hourglass.models.mlp_config import MAX_PARAMS, MAX_WIDTH
from hourglass.models.patch_config import check_image_head, io_counts, patch_recipe
from hourglass.options import MODEL_ACTS

VIT_NORMS = ("layer", "rms")
VIT_ACTS = MODEL_ACTS
MAX_LAYERS = 1_000
MAX_TOKENS = 16_384


@dataclass
class ViTConfig:
    image_shape: tuple[int, int, int]  # (C, h, w) the model reads
    out_dim: int  # classes, or C*H*W of the target image
    skip_dim: int  # d_model: width of the residual stream
    inner_dim: int  # d_h: width inside each feed-forward sub-block
    depth: int  # layers
    sub_blocks: int = 1  # K: feed-forward sub-blocks per layer
    attn_dim: int = 0  # heads x head dim; 0: d_model
    heads: int = 4
    patch: int = 4
    norm: str = "layer"
    act: str = "gelu"
    classify: bool = True  # False: a per-patch image head with a sigmoid

    def __post_init__(self) -> None:
        self.image_shape = tuple(int(v) for v in self.image_shape)
        for name in ("out_dim", "skip_dim", "inner_dim", "depth", "sub_blocks", "heads",
                     "patch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise UserError(f"{name.replace('_', '-')} must be a positive integer, got "
                                f"{value!r}")
        if not isinstance(self.attn_dim, int) or self.attn_dim < 0:
            raise UserError(f"attn-dim must be a positive integer (or 0: d_model), got "
                            f"{self.attn_dim!r}")
        for name in ("skip_dim", "inner_dim", "attn_dim", "out_dim"):
            if getattr(self, name) > MAX_WIDTH:
                raise UserError(f"{name.replace('_', '-')} {getattr(self, name)}: at most "
                                f"{MAX_WIDTH:,}")
        if self.depth * self.sub_blocks > MAX_LAYERS:
            raise UserError(f"depth x sub-blocks {self.depth * self.sub_blocks}: at most "
                            f"{MAX_LAYERS:,}")
        if self.norm not in VIT_NORMS:
            raise UserError(f"norm {self.norm!r}: the ViT takes {', '.join(VIT_NORMS)}")
        if self.act not in VIT_ACTS:
            raise UserError(f"act {self.act!r}: the ViT takes {', '.join(VIT_ACTS)}")
        c, h, w = self.image_shape
        if h % self.patch or w % self.patch:
            raise UserError(f"patch {self.patch} does not divide the {h}x{w} input images")
        if self.tokens > MAX_TOKENS:
            raise UserError(f"{self.tokens:,} tokens: at most {MAX_TOKENS:,}; take a larger patch")
        if self.attention % self.heads:
            raise UserError(f"attention width {self.attention} is not a multiple of "
                            f"{self.heads} heads")
        if not self.classify:
            check_image_head(self.image_shape, self.out_dim)
        total = count_params(self)["params"]
        if total > MAX_PARAMS:
            raise UserError(f"this network would have {total:,} parameters; at most "
                            f"{MAX_PARAMS:,}")

    @property
    def in_dim(self) -> int:
        c, h, w = self.image_shape
        return c * h * w

    @property
    def tokens(self) -> int:
        c, h, w = self.image_shape
        return (h // self.patch) * (w // self.patch)

    @property
    def attention(self) -> int:
        return self.attn_dim or self.skip_dim

    @property
    def out_patch(self) -> int:
        """Values one token writes in an image head: C x (patch x scale)^2."""
        return self.out_dim // self.tokens

    @property
    def shape(self) -> str:
        return shape_of(self.skip_dim, [self.inner_dim])

    def to_dict(self) -> dict:
        return asdict(self)


def count_params(cfg: ViTConfig) -> dict[str, int]:
    """Trainable parameters (the embedding, patch projection and positions, apart) and forward
    FLOPs per sample: 2 x multiply-adds of every matmul, attention's two included (2 N^2 a
    each); norms, softmax, activations, biases and the mean pool are left out."""
    d, n, a, f = cfg.skip_dim, cfg.tokens, cfg.attention, cfg.inner_dim
    io = io_counts(cfg.image_shape, cfg.patch, d, cfg.out_dim, cfg.classify, positions=True)
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
    if run.input_proj != "learned" or run.proj_seed is not None:
        raise UserError("--input-proj and --proj-seed are the MLP's; the ViT's patch embedding "
                        "is always learned")
    if isinstance(run.inner_dim, list):
        raise UserError("the ViT takes one --inner-dim for every layer")
    extra = run.arch
    cfg = ViTConfig(image_shape=task.input_image_shape, out_dim=task.out_dim,
                    skip_dim=run.skip_dim, inner_dim=run.inner_dim, depth=run.depth,
                    norm=run.norm, act=run.act, classify=not task.image_target,
                    **{d.name: extra.get(d.name, d.default) for d in VIT.extra_dims})
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
          Dim("patch", "p", "patch side in pixels", 4)),
    tasks=("classify", "denoise", "superres", "prototype"),
    make_config=make_config, config_from_dict=_from_dict, counts=count_params,
    module="hourglass.models.vit:VisionTransformer",
    default_task="classify",
    recipe=patch_recipe,
    examples={"hourglass": {"skip_dim": 48, "inner_dim": 12, "depth": 2, "sub_blocks": 2,
                            "attn_dim": 32, "heads": 2},
              "conventional": {"skip_dim": 32, "inner_dim": 128, "depth": 2, "heads": 2}}),
    variants={
        # configs are code and say what they reach (measured: README, Model families)
        "vit-c10-conventional": {
            "skip_dim": 128, "inner_dim": 512, "depth": 4,
            "extra": {"expected": "CIFAR-10 classify, default recipe: see README"}},
        # the hourglass at the same non-embedding parameters (hourglass match): d_model x1.5,
        # d_h just below d_model, K = 2, attention at the conventional width
        "vit-c10-hourglass": {
            "skip_dim": 192, "inner_dim": 127, "depth": 4,
            "arch": {"sub_blocks": 2, "attn_dim": 128},
            "extra": {"expected": "CIFAR-10 classify, default recipe: see README"}},
    })
