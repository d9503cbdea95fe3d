"""The MLP-Mixer family: configuration, exact parameter and FLOP counts, registration.
Arithmetic only, no PyTorch (the module is in mixer.py).

Tolstikhin et al.'s MLP-Mixer on patch tokens, with each layer's two MLPs in either shape:

    x = x + (W_t2 act(W_t1 Norm(x)^T))^T      token mixing: N tokens -> token_dim -> N
    x = x + FFN_k(Norm_k(x))   for k = 1..K   channel mixing: d -> d_h -> d (ResidualFFN)

``skip_dim`` is the channel width d of the residual stream and ``inner_dim`` the channel
MLP's d_h: the shape is hourglass when d_h < d (with K sub-blocks, as in the ViT family), and
conventional when d_h > d (the original: 4d). The token MLP's width ``token_dim`` is set on
its own (0: N / 2, the original's ratio); it is below N in a narrow-wide token MLP too, so
the shape is the channel MLP's. No positions: token mixing sees where each token is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from hourglass.errors import UserError
from hourglass.models.family import Dim, Family, check_shape, register, shape_of
from hourglass.models.mlp_config import MAX_PARAMS, MAX_WIDTH
from hourglass.models.patch_config import check_image_head, io_counts, patch_recipe
from hourglass.models.vit_config import MAX_LAYERS, MAX_TOKENS, VIT_ACTS, VIT_NORMS


@dataclass
class MixerConfig:
    image_shape: tuple[int, int, int]  # (C, h, w) the model reads
    out_dim: int  # classes, or C*H*W of the target image
    skip_dim: int  # d: channel width of the residual stream
    inner_dim: int  # d_h: width inside each channel-mixing sub-block
    depth: int  # layers
    sub_blocks: int = 1  # K: channel-mixing sub-blocks per layer
    token_dim: int = 0  # width inside the token-mixing MLP; 0: half the tokens
    patch: int = 4
    norm: str = "layer"
    act: str = "gelu"
    classify: bool = True

    def __post_init__(self) -> None:
        self.image_shape = tuple(int(v) for v in self.image_shape)
        for name in ("out_dim", "skip_dim", "inner_dim", "depth", "sub_blocks", "patch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise UserError(f"{name.replace('_', '-')} must be a positive integer, got "
                                f"{value!r}")
        if not isinstance(self.token_dim, int) or self.token_dim < 0:
            raise UserError(f"token-dim must be a positive integer (or 0: half the tokens), "
                            f"got {self.token_dim!r}")
        for name in ("skip_dim", "inner_dim", "token_dim", "out_dim"):
            if getattr(self, name) > MAX_WIDTH:
                raise UserError(f"{name.replace('_', '-')} {getattr(self, name)}: at most "
                                f"{MAX_WIDTH:,}")
        if self.depth * self.sub_blocks > MAX_LAYERS:
            raise UserError(f"depth x sub-blocks {self.depth * self.sub_blocks}: at most "
                            f"{MAX_LAYERS:,}")
        if self.norm not in VIT_NORMS or self.act not in VIT_ACTS:
            raise UserError(f"the Mixer takes norm {', '.join(VIT_NORMS)} and act "
                            f"{', '.join(VIT_ACTS)}; got {self.norm}, {self.act}")
        c, h, w = self.image_shape
        if h % self.patch or w % self.patch:
            raise UserError(f"patch {self.patch} does not divide the {h}x{w} input images")
        if self.tokens > MAX_TOKENS:
            raise UserError(f"{self.tokens:,} tokens: at most {MAX_TOKENS:,}; take a larger patch")
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
    def token_width(self) -> int:
        return self.token_dim or max(1, self.tokens // 2)

    @property
    def shape(self) -> str:
        return shape_of(self.skip_dim, [self.inner_dim])

    def to_dict(self) -> dict:
        return asdict(self)


def count_params(cfg: MixerConfig) -> dict[str, int]:
    """Trainable parameters (the patch embedding apart) and forward FLOPs per sample: 2 x
    multiply-adds of every matmul; norms, activations, biases and the mean pool left out."""
    d, n, t, f = cfg.skip_dim, cfg.tokens, cfg.token_width, cfg.inner_dim
    io = io_counts(cfg.image_shape, cfg.patch, d, cfg.out_dim, cfg.classify, positions=False)
    norm = 2 * d if cfg.norm == "layer" else d
    up = 2 * f if cfg.act == "swiglu" else f
    tup = 2 * t if cfg.act == "swiglu" else t
    token = norm + n * tup + tup + t * n + n
    channel = norm + d * up + up + f * d + d
    trainable = io["embedding"] + cfg.depth * (token + cfg.sub_blocks * channel) + norm + \
        io["head"]
    flops = io["flops"] + cfg.depth * 2 * (d * (n * tup + t * n)
                                           + cfg.sub_blocks * n * (d * up + f * d))
    return {"params": trainable, "frozen_params": 0, "embedding_params": io["embedding"],
            "flops_per_sample": flops}


def make_config(run, task) -> MixerConfig:
    """The Mixer a run trains (``run``: a TrainConfig; ``task``: its TaskShape)."""
    if run.input_proj != "learned" or run.proj_seed is not None:
        raise UserError("--input-proj and --proj-seed are the MLP's; the Mixer's patch "
                        "embedding is always learned")
    if isinstance(run.inner_dim, list):
        raise UserError("the Mixer takes one --inner-dim for every layer")
    cfg = MixerConfig(image_shape=task.input_image_shape, out_dim=task.out_dim,
                      skip_dim=run.skip_dim, inner_dim=run.inner_dim, depth=run.depth,
                      norm=run.norm, act=run.act, classify=not task.image_target,
                      **{d.name: run.arch.get(d.name, d.default) for d in MIXER.extra_dims})
    check_shape(run.shape, cfg.shape, cfg.skip_dim, cfg.inner_dim)
    return cfg


MIXER = register(Family(
    name="mixer",
    summary="MLP-Mixer on patch tokens: token mixing, then K residual channel-mixing "
            "sub-blocks per layer; the channel MLP's shape is the network's",
    dims=(Dim("skip_dim", "z", "d: channel width of the residual stream"),
          Dim("inner_dim", "h", "d_h: width inside each channel-mixing sub-block"),
          Dim("depth", "L", "layers (token mixing + K channel sub-blocks each)"),
          Dim("sub_blocks", "K", "K: channel-mixing sub-blocks per layer", 1),
          Dim("token_dim", "t", "token-mixing width (0: half the tokens)", 0),
          Dim("patch", "p", "patch side in pixels", 4)),
    tasks=("classify", "denoise", "superres", "prototype"),
    make_config=make_config, config_from_dict=lambda d: MixerConfig(
        **{**d, "image_shape": tuple(d["image_shape"])}),
    counts=count_params, module="hourglass.models.mixer:MLPMixer", default_task="classify",
    recipe=patch_recipe,
    examples={"hourglass": {"skip_dim": 48, "inner_dim": 12, "depth": 2, "sub_blocks": 2},
              "conventional": {"skip_dim": 32, "inner_dim": 128, "depth": 2, "token_dim": 8}}))
