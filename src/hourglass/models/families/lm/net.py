"""The character-level Transformer language model (configuration and counts in lm_config.py).

Read top to bottom: rotary positions, causal attention with QK-norm at its own width, the
layer (attention, then the K-sub-block ResidualFFN of ffn.py), the model, and sampling.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from hourglass.models.layers.attention import attend
from hourglass.models.layers.blocks import AltUp
from hourglass.models.layers.dropout import DROPOUTS
from hourglass.models.layers.ffn import ResidualFFN
from hourglass.models.layers.norm_act import ACTS
from hourglass.models.layers.norm_act import NORMS as NORM_LAYERS

from .spec import LMConfig

EPS = 1e-6  # the authors' RMSNorm epsilon (Megatron's layernorm_epsilon)
NORMS = {name: partial(layer, eps=EPS) for name, layer in NORM_LAYERS.items()}
ROPE_BASE = 10_000.0
INIT_STD = 0.02  # N(0, 0.02) for every matrix, embedding included (the authors' init_method_std)


def rope_tables(context: int, head_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin (context, head_dim / 2) of rotary positions: pair i of a head turns by
    position x ROPE_BASE^(-2i / head_dim)."""
    freq = ROPE_BASE ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angle = torch.arange(context, dtype=torch.float64)[:, None] * freq
    return angle.cos().float(), angle.sin().float()


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary positions on (B, heads, T, head_dim): the two halves of a head are the pairs."""
    a, b = x.chunk(2, dim=-1)
    cos, sin = cos[: x.shape[-2]], sin[: x.shape[-2]]
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)


class CausalAttention(nn.Module):
    """Multi-head causal self-attention of width ``attn_dim`` = heads x head dim, with the
    queries and keys normalised per head before the rotary positions (QK-norm); ``dropout``
    on the attention weights, its masks ``masks`` (layers/attention.py)."""

    def __init__(self, dim: int, attn_dim: int, heads: int, context: int,
                 norm_layer: type[nn.Module], dropout: float = 0.0,
                 masks: str = "torch") -> None:
        super().__init__()
        self.heads, self.dropout, self.masks = heads, dropout, masks
        self.qkv = nn.Linear(dim, 3 * attn_dim, bias=False)
        self.q_norm = norm_layer(attn_dim // heads)
        self.k_norm = norm_layer(attn_dim // heads)
        self.proj = nn.Linear(attn_dim, dim, bias=False)
        cos, sin = rope_tables(context, attn_dim // heads)
        self.register_buffer("cos", cos, persistent=False)  # rebuilt, never stored
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q = rotate(self.q_norm(q), self.cos, self.sin)
        k = rotate(self.k_norm(k), self.cos, self.sin)
        out = attend(q, k, v, is_causal=True, masks=self.masks,
                     dropout_p=self.dropout if self.training else 0.0)
        return self.proj(out.transpose(1, 2).reshape(b, t, -1))


class Layer(nn.Module):
    """x + Attn(Norm(x)), then K residual feed-forward sub-blocks, at width cfg.layer_dim
    (d_model; with AltUp one sub-block of the stream)."""

    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        norm = NORMS[cfg.norm]
        act, gated = ACTS[cfg.act]
        drop = DROPOUTS[cfg.dropout_masks]
        w = cfg.layer_dim
        self.norm = norm(w)
        self.attn = CausalAttention(w, cfg.attention, cfg.heads, cfg.context, norm,
                                    cfg.dropout if cfg.attention_dropout is None
                                    else cfg.attention_dropout, cfg.dropout_masks)
        self.drop = drop(cfg.dropout) if cfg.dropout > 0 else nn.Identity()
        self.ffn = ResidualFFN(w, cfg.inner_dim, cfg.sub_blocks, norm_layer=norm,
                               act_layer=act, gated=gated, bias=False, dropout=cfg.dropout,
                               drop_layer=drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn(x + self.drop(self.attn(self.norm(x))))


class LanguageModel(nn.Module):
    """Character ids (B, T) -> next-character logits (B, T, vocab)."""

    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab, cfg.skip_dim)
        self.layers = nn.ModuleList(
            AltUp(Layer(cfg), cfg.altup, i) if cfg.altup > 1 else Layer(cfg)
            for i in range(cfg.depth))
        self.norm = NORMS[cfg.norm](cfg.skip_dim)
        self.head = nn.Linear(cfg.skip_dim, cfg.vocab, bias=False)
        for m in self.modules():
            if isinstance(m, nn.Linear | nn.Embedding):
                nn.init.normal_(m.weight, std=INIT_STD)
        if cfg.tied:
            self.head.weight = self.embed.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] > self.cfg.context:
            raise ValueError(f"{ids.shape[1]} characters; the model reads at most "
                             f"{self.cfg.context}")
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x)
        return self.head(self.norm(x))

    def no_decay(self) -> list[nn.Parameter]:
        """Norm gains and biases: AdamW leaves them undecayed (nanoGPT, Megatron); the
        QK-norm gains decay, as in the authors' config (apply_wd_to_qk_layernorm). AltUp's
        mixing starts at the identity and is not pulled towards 0 either."""
        return [p for name, p in self.named_parameters()
                if (p.ndim < 2 and ".q_norm." not in name and ".k_norm." not in name)
                or name.endswith(".mix")]

    def hidden_matrices(self) -> list[nn.Parameter]:
        """The layers' weight matrices (not the embedding, the output layer or AltUp's
        mixing coefficients): the ones Muon orthogonalises."""
        return [p for name, p in self.layers.named_parameters()
                if p.ndim == 2 and not name.endswith(".mix")]

    @torch.no_grad()
    def generate(self, ids: torch.Tensor, tokens: int, temperature: float = 1.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """``ids`` (B, T0) continued by ``tokens`` sampled characters; each step reads the
        last ``context`` characters (temperature 0: the most likely one)."""
        was_training = self.training
        self.eval()
        for _ in range(tokens):
            logits = self(ids[:, -self.cfg.context:])[:, -1]
            if temperature == 0:
                nxt = logits.argmax(-1, keepdim=True)
            else:
                probs = F.softmax(logits.double() / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator)
            ids = torch.cat([ids, nxt], dim=1)
        self.train(was_training)
        return ids
