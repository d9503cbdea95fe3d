"""The language-model task: next-character prediction on windows of a text, scored in bits
per character (the mean cross-entropy in nats over ln 2; lower is better)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from hourglass.data.text import TextSplit
from hourglass.tasks.base import LMShape


@dataclass
class LMTask(LMShape):
    chars: str = ""  # the vocabulary, id i is chars[i] (stored with a checkpoint, for sampling)

    def fit(self, train: TextSplit) -> None:
        """Nothing to learn from the training split before training."""

    def split_xy(self, split: TextSplit, which: str = "eval") -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, targets) of every window of a split: (N, context) ids each."""
        w = split.windows()
        return w[:, :-1], w[:, 1:]

    def train_batch(self, split: TextSplit, idx: torch.Tensor, gen: torch.Generator,
                    augment: str = "none", inputs: bool = True
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Windows ``idx``, all cut a random 0..context-1 characters later than the eval cut,
        so that successive epochs see the text split at different places (a text has no
        augmentation and no cached inputs)."""
        shift = int(torch.randint(self.context, (1,), generator=gen))
        w = split.windows(idx, shift)
        return w[:, :-1], w[:, 1:]

    def mirrored(self, x: torch.Tensor) -> torch.Tensor:
        raise ValueError("a text has no mirror image (--test-flip is classification's)")

    def example_inputs(self, n: int) -> torch.Tensor:
        """``n`` random windows of the model's context (latency timing)."""
        return torch.randint(self.vocab, (n, self.context))

    def test_numbers(self, m: dict[str, float], base: dict[str, float]) -> dict[str, float]:
        return {"test_bpc": m["bpc"], "test_loss": m["loss"], "baseline_bpc": base["bpc"]}

    def to_meta(self) -> dict:
        return {"name": self.name, "vocab": self.vocab, "context": self.context,
                "chars": self.chars}

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy in nats over every position of every window."""
        return F.cross_entropy(pred.flatten(0, 1), target.flatten())

    def metrics(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        loss = self.loss(pred, target).item()
        return {"loss": loss, "bpc": loss / math.log(2)}

    def baseline(self, train: TextSplit, split: TextSplit, which: str) -> dict[str, float]:
        """The unigram model: each character's training frequency (add-one smoothed), the
        same guess at every position."""
        counts = torch.bincount(train.tokens.long(), minlength=self.vocab).double() + 1
        logp = (counts / counts.sum()).log()
        targets = split.windows()[:, 1:].flatten()
        return {"bpc": (-logp[targets].mean() / math.log(2)).item()}
