"""Where a run stands: saved with every trainer checkpoint (as the JSON "counters" it always
was), so a resumed run continues exactly where the last completed epoch left it."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field

from hourglass.core.errors import UserError


@dataclass
class TrainState:
    epoch: int = 0  # the last completed epoch
    step: int = 0  # optimizer steps taken
    best_epoch: int = 0  # the epoch of model.safetensors (0: none yet)
    best_eval_loss: float = math.inf
    train_seconds: float = 0.0  # training time over every session of the run
    history: list[dict] = field(default_factory=list)  # one row per epoch (history.csv)
    first_loss: float | None = None  # the first batch's loss: divergence is judged against it
    # each machine (training/machine.py) a session of the run ran on, in order, listed again
    # only when it changes: the seconds and the fp32 numbers are these machines'
    machines: list[dict] = field(default_factory=list)

    def ran_on(self, machine: dict) -> None:
        if not self.machines or self.machines[-1] != machine:
            self.machines.append(machine)

    def to_json(self) -> str:
        d = dataclasses.asdict(self)
        if self.first_loss is None:  # written once the first step is taken, as it always was
            del d["first_loss"]
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str, where: str) -> TrainState:
        try:
            d = json.loads(text)
            return cls(**d)
        except (json.JSONDecodeError, TypeError) as e:
            raise UserError(f"{where}: damaged training state ({e})") from None
