"""The character-level Transformer language model: configuration, exact parameter and FLOP
counts, registration. Arithmetic only, no PyTorch (the module is in lm.py).

The layer of the authors' Hourglass LM (arXiv 2602.06471, ``hourglass_lm/``), causal:

    x = x + Attn(RMSNorm(x))                  width attn_dim = heads x head dim, QK-norm, RoPE
    x = x + SwiGLU_k(RMSNorm_k(x))  k = 1..K  d_model -> d_h (gate and up) -> d_model, no bias

Conventional: K = 1 and d_h about 2.7-4 x d_model (a Llama MLP). Hourglass: a wider d_model,
d_h below it, K sub-blocks, the attention kept at the baseline's width (so QKV projects down).
They are compared at equal non-embedding parameters: 4 d_model d_attn + 3 K d_model d_h a
layer, and the norms' weights (which the authors' formula leaves out; they are under 1%).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from hourglass.core.choices import DROPOUT_MASKS
from hourglass.core.errors import UserError
from hourglass.core.limits import MAX_PARAMS, MAX_WIDTH
from hourglass.models.family import Dim, Family, check_shape, register, shape_of
from hourglass.models.layers.blocks_config import parse_block

from .spaces import SPACES, compare_space

NORMS = ("rms", "layer")
ACTS = ("swiglu", "gelu", "relu")
MAX_LAYERS = 1_000
MAX_CONTEXT = 65_536


@dataclass
class LMConfig:
    vocab: int  # characters
    context: int  # T: characters a window holds (positions are rotary: no parameters)
    skip_dim: int  # d_model: width of the residual stream
    inner_dim: int  # d_h: width inside each feed-forward sub-block
    depth: int  # layers
    sub_blocks: int = 1  # K
    attn_dim: int = 0  # heads x head dim; 0: d_model
    heads: int = 4
    tied: int = 1  # 1: the output layer is the embedding's transpose; 0: its own matrix
    norm: str = "rms"
    act: str = "swiglu"
    block: str = "plain"  # or altup:K: each layer runs on one of K sub-blocks of the stream
    dropout: float = 0.0  # training only: after attention and each sub-block, and in attention
    attention_dropout: float | None = None  # on the attention weights; None: dropout. At 0 the
    # attention runs PyTorch's fused kernel, which has no dropout (docs/results section 9)
    dropout_masks: str = "torch"  # torch (nn.Dropout) or int16 (layers/dropout.py)

    def __post_init__(self) -> None:
        for name in ("vocab", "context", "skip_dim", "inner_dim", "depth", "sub_blocks",
                     "heads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise UserError(f"{name.replace('_', '-')} must be a positive integer, got "
                                f"{value!r}")
        for name in ("dropout", "attention_dropout"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float)
                                          and not isinstance(value, bool) and 0 <= value < 1):
                raise UserError(f"{name.replace('_', '-')} must be in [0, 1), got {value!r}")
        if self.dropout_masks not in DROPOUT_MASKS:
            raise UserError(f"dropout masks {self.dropout_masks!r}: choose one of "
                            f"{', '.join(DROPOUT_MASKS)}")
        if not isinstance(self.attn_dim, int) or self.attn_dim < 0:
            raise UserError(f"attn-dim must be a positive integer (or 0 for d_model), got "
                            f"{self.attn_dim!r}")
        if self.tied not in (0, 1):
            raise UserError(f"tied must be 1 (output layer = embedding) or 0, got {self.tied!r}")
        for name in ("skip_dim", "inner_dim", "attn_dim", "vocab"):
            if getattr(self, name) > MAX_WIDTH:
                raise UserError(f"{name.replace('_', '-')} {getattr(self, name)}: at most "
                                f"{MAX_WIDTH:,}")
        if self.depth * self.sub_blocks > MAX_LAYERS:
            raise UserError(f"depth x sub-blocks {self.depth * self.sub_blocks}: at most "
                            f"{MAX_LAYERS:,}")
        if self.context > MAX_CONTEXT:
            raise UserError(f"context {self.context:,}: at most {MAX_CONTEXT:,}")
        if self.norm not in NORMS:
            raise UserError(f"norm {self.norm!r}: the language model takes {', '.join(NORMS)}")
        if self.act not in ACTS:
            raise UserError(f"act {self.act!r}: the language model takes {', '.join(ACTS)}")
        kind, k = parse_block(self.block)
        if kind not in ("plain", "altup"):
            raise UserError(f"block {self.block}: the language model takes plain or altup:K")
        if kind == "altup" and (k < 2 or self.skip_dim % k):
            raise UserError(f"block {self.block}: skip-dim {self.skip_dim} must split into "
                            "K >= 2 equal sub-blocks")
        if self.attention % self.heads or (self.attention // self.heads) % 2:
            raise UserError(f"attention width {self.attention} must be {self.heads} heads of "
                            "an even head dim (rotary positions turn pairs of values)")
        total = self.counts()["params"]
        if total > MAX_PARAMS:
            raise UserError(f"this network would have {total:,} parameters; at most "
                            f"{MAX_PARAMS:,}")

    @property
    def altup(self) -> int:
        """K of altup:K, else 1."""
        return parse_block(self.block)[1] or 1

    @property
    def layer_dim(self) -> int:
        """The width a layer computes at: d_model, or with AltUp one sub-block of it."""
        return self.skip_dim // self.altup

    @property
    def attention(self) -> int:
        return self.attn_dim or self.layer_dim

    @property
    def head_dim(self) -> int:
        return self.attention // self.heads

    @property
    def shape(self) -> str:
        return shape_of(self.skip_dim, [self.inner_dim])

    def counts(self) -> dict[str, int]:
        return count_params(self)

    def to_dict(self) -> dict:
        return asdict(self)


def count_params(cfg: LMConfig) -> dict[str, int]:
    """Trainable parameters, ``embedding_params`` the token embedding and (untied) output
    layer, and forward FLOPs per token (``flops_per_sample``: each position is a prediction):
    2 x multiply-adds of every matmul, attention's two at the full context (4 T a: what
    PyTorch's FLOP counter charges a causal SDPA); norms, rotary, softmax and the gate's
    product left out. With AltUp each layer runs at one sub-block's width and adds its K x K
    mixing (K^2 + K parameters, K^2 d/K multiply-adds a token)."""
    d, f, a, v, k = cfg.skip_dim, cfg.inner_dim, cfg.attention, cfg.vocab, cfg.altup
    w = cfg.layer_dim
    per = 2 if cfg.norm == "layer" else 1
    up = 2 * f if cfg.act == "swiglu" else f
    mm_layer = w * 3 * a + a * w + cfg.sub_blocks * (w * up + f * w)
    layer = per * w * (1 + cfg.sub_blocks) + per * 2 * cfg.head_dim + mm_layer
    mix, mm_mix = (k * k + k, k * w * k) if k > 1 else (0, 0)
    embedding = v * d * (1 if cfg.tied else 2)
    params = embedding + cfg.depth * (layer + mix) + per * d
    flops = 2 * cfg.depth * (mm_layer + mm_mix + 2 * cfg.context * a) + 2 * d * v
    return {"params": params, "frozen_params": 0, "embedding_params": embedding,
            "flops_per_sample": flops}


def make_config(run, task) -> LMConfig:
    """The language model a run trains (``run``: a TrainConfig; ``task``: its LMShape)."""
    if run.input_proj != "learned" or run.proj_seed is not None:
        raise UserError("--input-proj and --proj-seed are the MLP's; the language model's "
                        "embedding is always learned")
    if isinstance(run.inner_dim, list):
        raise UserError("the language model takes one --inner-dim for every layer")
    cfg = LMConfig(vocab=task.vocab, context=task.context, skip_dim=run.skip_dim,
                   inner_dim=run.inner_dim, depth=run.depth, norm=run.norm, act=run.act,
                   block=run.block, dropout=run.dropout,
                   attention_dropout=run.attention_dropout, dropout_masks=run.dropout_masks,
                   **{d.name: run.arch.get(d.name, d.default) for d in LM.extra_dims})
    check_shape(run.shape, cfg.shape, cfg.skip_dim, cfg.inner_dim)
    return cfg


DROPOUT = 0.1  # recipe 3: after each residual branch and on the attention weights


def lm_recipe(task, dataset: str, version: int) -> dict:
    """The authors' recipe at this machine's scale: RMSNorm, SwiGLU, AdamW (0.9, 0.95) with
    weight decay 0.1, warm-up then cosine decay; windows of 256 characters (nanoGPT's
    shakespeare_char). An epoch is one pass over the training text; batch 16 rather than
    nanoGPT's 64: 10 epochs of Tiny Shakespeare are then 2,450 steps (nanoGPT takes 5,000),
    where batch 64 would leave 610, and 16 x 256 rows still keep a CPU's matmuls busy. The lr
    warms up over 100 steps (nanoGPT's shakespeare_char). Weight decay pulls the matrices
    only (LanguageModel.no_decay). Recipe 3 adds dropout (nanoGPT's shakespeare_char has 0.2
    at 10.7M parameters; without it the default model overfits after epoch 7). Recipe 6 draws
    its masks from 16-bit random integers (layers/dropout.py): the same dropout, a step
    1.12-1.58x faster (bench/lm.py)."""
    return {"norm": "rms", "act": "swiglu", "augment": "none", "lr_schedule": "cosine",
            "warmup": 100, "weight_decay": 0.1, "adam_beta2": 0.95, "context": 256,
            "batch_size": 16, "epochs": 10, "test_checkpoint": "best", "decay": "matrices",
            "dropout": DROPOUT if version >= 3 else 0.0,
            "dropout_masks": "int16" if version >= 6 else "torch"}


LM = register(Family(
    name="lm",
    summary="causal character-level Transformer: attention (RoPE, QK-norm), then K residual "
            "SwiGLU sub-blocks per layer; bits per character",
    dims=(Dim("skip_dim", "z", "d_model: width of the residual stream"),
          Dim("inner_dim", "h", "d_h: width inside each SwiGLU sub-block"),
          Dim("depth", "L", "layers (attention + K sub-blocks each)"),
          Dim("sub_blocks", "K", "K: feed-forward sub-blocks per layer", 1),
          Dim("attn_dim", "a", "attention width, heads x head dim (0: d_model)", 0),
          Dim("heads", "nh", "attention heads", 4),
          Dim("tied", "tie", "1: output layer tied to the embedding, 0: untied", 1)),
    tasks=("lm",),
    make_config=make_config, config_from_dict=lambda d: LMConfig(**d), counts=count_params,
    options={"block": parse_block},  # plain or altup:K (LMConfig refuses the others)
    module=f"{__package__}.net:LanguageModel", default_task="lm", recipe=lm_recipe,
    takes_dropout=True, spaces=SPACES, compare_space=compare_space,
    default_dataset="moby-dick",
    examples={"hourglass": {"skip_dim": 48, "inner_dim": 16, "depth": 2, "sub_blocks": 2,
                            "attn_dim": 32, "heads": 2},
              "conventional": {"skip_dim": 32, "inner_dim": 96, "depth": 2, "heads": 2,
                               "tied": 0}}),
    variants={
        # nanoGPT's shakespeare_char at this machine's scale (README, Model families)
        "lm-char-conventional": {
            "dataset": "tinyshakespeare", "skip_dim": 256, "inner_dim": 768, "depth": 4,
            "arch": {"heads": 4}, "recipe": 3,
            "extra": {"expected": "tinyshakespeare, recipe 3 (dropout 0.1), 10 epochs: "
                                  "eval 1.991, test 2.226 bits per character (1.462 nats "
                                  "over both, nanoGPT's validation text) in 4,167 s on one "
                                  "thread of a shared 2-core CPU"}},
        # the same non-embedding parameters (hourglass match): d_model x1.5, d_h about half
        # of it, K = 2, the attention at the conventional width
        "lm-char-hourglass": {
            "dataset": "tinyshakespeare", "skip_dim": 384, "inner_dim": 199, "depth": 4,
            "arch": {"sub_blocks": 2, "attn_dim": 256, "heads": 4},
            "extra": {"expected": "tinyshakespeare, default recipe: not measured yet"}},
    })
