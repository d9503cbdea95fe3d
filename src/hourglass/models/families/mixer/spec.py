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

from dataclasses import dataclass

from hourglass.models.family import Dim, Family, check_shape, register
from hourglass.models.layers.patch_config import (
    PatchConfig,
    io_counts,
    patch_make_config,
    patch_recipe,
)

from .spaces import SPACES, compare_space


@dataclass
class MixerConfig(PatchConfig):
    """PatchConfig's fields (skip_dim = the channel width d), and the token MLP's width."""

    token_dim: int = 0  # width inside the token-mixing MLP; 0: half the tokens

    FAMILY = "Mixer"
    WIDTHS = ("token_dim",)

    def counts(self) -> dict[str, int]:
        return count_params(self)

    @property
    def token_width(self) -> int:
        return self.token_dim or max(1, self.tokens // 2)


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
    cfg = patch_make_config(MixerConfig, MIXER, run, task)
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
    counts=count_params, module=f"{__package__}.net:MLPMixer", default_task="classify",
    recipe=patch_recipe, spaces=SPACES, compare_space=compare_space,
    examples={"hourglass": {"skip_dim": 48, "inner_dim": 12, "depth": 2, "sub_blocks": 2},
              "conventional": {"skip_dim": 32, "inner_dim": 128, "depth": 2, "token_dim": 8}}))
