"""How sharply each attention layer of a trained run attends: the size of its logits and the
entropy of its attention weights, on the run's own eval inputs.

    python studies/attention.py RUN_DIR [RUN_DIR ...] [--data-dir DIR] [--rows N]

For every attention call of one forward pass over the first N eval rows (images, or windows of
text), in the order the layers run: the standard deviation and the largest absolute value of
the scaled logits q.k / sqrt(head dim), the mean entropy of the attention weights in nats
(uniform over the keys a query sees is its maximum; 0, every query on one key), and the mean
largest weight. A collapsed attention (entropy near 0 in most layers, logits an order larger
than a healthy run's) is how an optimizer step too large for the query and key matrices shows
(Zhai et al. 2023, arXiv 2303.06296). Any family whose layers call
hourglass.models.layers.attention.attend is read.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from hourglass.core.errors import UserError
from hourglass.models.layers import attention
from hourglass.training.evaluate import load_run, prepare


@dataclass
class AttentionStats:
    logit_std: float
    logit_max: float
    entropy: float  # mean over batch, heads and queries, nats
    max_entropy: float  # the same mean of log(keys a query sees): uniform attention
    top_weight: float  # mean largest weight of a query


def stats_of(q: torch.Tensor, k: torch.Tensor, is_causal: bool = False) -> AttentionStats:
    """q, k: (B, heads, T, head dim), as F.scaled_dot_product_attention takes them."""
    q, k = q.float(), k.float()
    logits = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    t, s = logits.shape[-2:]
    seen = torch.ones(t, s, dtype=torch.bool)
    if is_causal:
        seen = seen.tril()
    p = logits.masked_fill(~seen, -math.inf).softmax(-1)
    entropy = -(p * p.clamp_min(1e-30).log()).sum(-1)
    visible = logits.masked_select(seen.expand_as(logits))
    return AttentionStats(logit_std=visible.std().item(), logit_max=visible.abs().max().item(),
                          entropy=entropy.mean().item(),
                          max_entropy=seen.sum(-1).float().log().mean().item(),
                          top_weight=p.amax(-1).mean().item())


def attention_stats(run_dir: str | Path, data_dir: str | None = None,
                    rows: int = 64) -> list[AttentionStats]:
    """One AttentionStats per attention call of a forward pass over the first ``rows`` eval
    rows of the run's data, in the order the layers run."""
    cfg, model = load_run(run_dir)
    cfg = dataclasses.replace(cfg, data_dir=data_dir or cfg.data_dir, eval_limit=rows)
    prep = prepare(cfg)
    x, _ = prep.task.split_xy(prep.data.eval, "eval")
    found: list[AttentionStats] = []
    original = attention.attend

    def recording(q, k, v, **kwargs):
        found.append(stats_of(q, k, bool(kwargs.get("is_causal"))))
        return original(q, k, v, **kwargs)

    # the families import attend by name: swap it wherever it was imported
    holders = [m for m in list(sys.modules.values()) if getattr(m, "attend", None) is original]
    for module in holders:
        module.attend = recording
    try:
        with torch.no_grad():  # one forward of every row: one call per layer
            model.eval()(x[:rows])
    finally:
        for module in holders:
            module.attend = original
    if not found:
        raise UserError(f"{run_dir}: its model calls no attention layer")
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--data-dir", help="where the runs' datasets live (default: as trained)")
    ap.add_argument("--rows", type=int, default=64, help="eval rows (default 64)")
    args = ap.parse_args()
    if args.rows < 2:
        print("attention.py: --rows must be at least 2", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    out = csv.writer(sys.stdout)
    out.writerow(["run", "layer", "logit_std", "logit_max", "entropy", "max_entropy",
                  "top_weight"])
    try:
        for run in args.runs:
            for i, s in enumerate(attention_stats(run, args.data_dir, args.rows)):
                out.writerow([run.name, i, f"{s.logit_std:.2f}", f"{s.logit_max:.1f}",
                              f"{s.entropy:.2f}", f"{s.max_entropy:.2f}", f"{s.top_weight:.2f}"])
    except UserError as e:
        print(f"attention.py: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
