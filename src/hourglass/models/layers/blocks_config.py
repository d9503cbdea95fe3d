"""The MLP's block variants: other ways of buying width cheaply, as ``MLPConfig.block``.
Arithmetic only (the modules are in blocks.py). With d = skip_dim and h = a block's inner_dim:

``plain``       z + W2 act(W1 norm(z)): the paper's block (2 d h parameters).
``frozen``      W1 frozen at a seeded random matrix, stored as its seed like a fixed W_in
                (fixed random features): h d trainable, h d frozen.
``lowrank:R``   W1 and W2 each a product of two trained factors of rank R, trained with
                ordered dropout over the rank (Maestro, Horvath et al. 2024): each step keeps
                the first r <= R components, so the rank can be cut after training.
                2 R (d + h) parameters.
``nested``      the paper's block, trained so that every prefix of the bottleneck (h/8, h/4,
                h/2, h) is a model (Matryoshka / MatFormer): each step draws one prefix width
                for every block; `hourglass eval --inner-dim N` tests a prefix.
``hash:E``      E expert blocks; each sample goes to one, chosen by a fixed locality-sensitive
                hash of its normalised residual (the signs of log2 E seeded random
                projections: hash layers, Roller et al. 2021; LSH routing, Panigrahy et al.
                2021). No learned router: E x 2 d h parameters, one expert's compute.
``altup:K``     alternating updates (AltUp, Baykal et al. 2023): the stream of width d is K
                sub-blocks of d / K; block i computes on sub-block i mod K only; a learned
                K x K mixing predicts every sub-block before it, a learned gain per sub-block
                corrects each with the computed one's change after it. 2 (d/K) h + K^2 + K
                parameters a block.

FLOPs count what one sample runs: 2 x multiply-adds of every matmul (at the full rank and
width; one expert and its hash projections; AltUp's K x K mixing), norms, activations and
elementwise products left out, as for the plain block.
"""

from __future__ import annotations

from hourglass.core.errors import UserError

BLOCKS = ("plain", "frozen", "lowrank:R", "nested", "hash:E", "altup:K")
NESTED_FRACTIONS = (8, 4, 2, 1)  # nested prefixes: h/8, h/4, h/2, h
MAX_EXPERTS = 1024


def parse_block(block: str) -> tuple[str, int]:
    """'hash:8' -> ('hash', 8); 'plain' -> ('plain', 0)."""
    kind, _, n = str(block).partition(":")
    numbered = {b.split(":")[0] for b in BLOCKS if ":" in b}
    if kind not in {b.split(":")[0] for b in BLOCKS} or bool(n) != (kind in numbered):
        raise UserError(f"block {block!r}: choose one of {', '.join(BLOCKS)} (R, E, K: "
                        "positive integers)")
    if not n:
        return kind, 0
    if not n.isdigit() or int(n) < 1:
        raise UserError(f"block {block!r}: {n!r} must be a positive integer")
    return kind, int(n)


def check_block(block: str, skip_dim: int, inner_dims: list[int]) -> None:
    kind, n = parse_block(block)
    if kind == "lowrank" and n > min(skip_dim, *inner_dims):
        raise UserError(f"block {block}: rank {n} above the narrower side of a block "
                        f"({min(skip_dim, *inner_dims)}) buys nothing")
    if kind == "nested" and min(inner_dims) < NESTED_FRACTIONS[0]:
        raise UserError(f"block nested: inner-dim {min(inner_dims)} has no 1/8 prefix; give "
                        f"at least {NESTED_FRACTIONS[0]}")
    if kind == "hash" and (n < 2 or n > MAX_EXPERTS or n & (n - 1)):
        raise UserError(f"block {block}: experts must be a power of 2 from 2 to "
                        f"{MAX_EXPERTS} (each a combination of hash bits)")
    if kind == "altup" and (n < 2 or skip_dim % n):
        raise UserError(f"block {block}: skip-dim {skip_dim} must split into K >= 2 "
                        "equal sub-blocks")


def hash_bits(experts: int) -> int:
    return experts.bit_length() - 1


def block_counts(cfg) -> tuple[int, int, int]:
    """(trainable, frozen, multiply-adds per sample) of all the blocks of an MLPConfig."""
    kind, n = parse_block(cfg.block)
    d = cfg.skip_dim
    trainable = frozen = macs = 0
    for h in cfg.inner_dims:
        if kind in ("plain", "nested"):
            trainable, macs = trainable + 2 * d * h, macs + 2 * d * h
        elif kind == "frozen":
            trainable, frozen, macs = trainable + h * d, frozen + d * h, macs + 2 * d * h
        elif kind == "lowrank":
            trainable, macs = trainable + 2 * n * (d + h), macs + 2 * n * (d + h)
        elif kind == "hash":
            bits = hash_bits(n)
            trainable, frozen = trainable + n * 2 * d * h, frozen + bits * d
            macs += 2 * d * h + bits * d
        else:  # altup
            sub = d // n
            trainable += 2 * sub * h + n * n + n
            macs += 2 * sub * h + n * n * sub
    return trainable, frozen, macs
