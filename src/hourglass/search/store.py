"""Trials live in Optuna studies, one per shape, in a journal file or a PostgreSQL database.

A search may be rerun with a wider space (values added to its lists): Optuna fixes a study's
categorical choices, so the wider space opens a new study per shape (``<name>:<shape>:2``, ...)
and the finished trials of the earlier, narrower ones still count (the new study also gets
copies of them, so NSGA-II samples with what they found).

Claiming is exactly-once: a worker enqueues the trial it wants (its params and a ``key``),
pops a waiting trial with ``ask()`` (atomic in both storages), and then yields to any other
trial with the same key that already finished or started earlier (lower number). A trial whose
worker died is failed without a ``failure`` reason and its key becomes free again: on this host
by checking the worker's pid, across hosts by PostgreSQL heartbeats.
"""

from __future__ import annotations

import datetime
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from hourglass.core.errors import UserError
from hourglass.models.registry import get_family
from hourglass.search.frontier import DIRECTIONS, metric_name
from hourglass.search.space import Arch, SearchSpace, Unit, extends

HEARTBEAT_S = 5
# A worker labels a trial it popped (host, pid, owner) milliseconds after ask(); a running
# trial still unlabelled this long after it started lost its worker in between
ORPHAN_S = 60
SCHEMA_RETRIES = 3
GRACE_S = 20
JOURNAL_FILE = "journal.log"

optuna.logging.set_verbosity(optuna.logging.WARNING)


def open_storage(url: str | None, out: Path) -> optuna.storages.BaseStorage:
    if url is None:
        from optuna.storages.journal import JournalFileBackend

        out.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(str(out / JOURNAL_FILE)))
    if not url.startswith(("postgresql://", "postgresql+psycopg2://", "sqlite:///")):
        raise UserError(f"--storage {url!r}: give a postgresql://user@host/db URL (or sqlite:///)")
    for attempt in range(SCHEMA_RETRIES):
        try:
            return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_S,
                                              grace_period=GRACE_S)
        except Exception as e:  # sqlalchemy raises many kinds; the message says which
            # workers started together on a fresh database race to create Optuna's schema;
            # the loser finds it made by the winner on a second try
            if "already exists" in str(e) and attempt + 1 < SCHEMA_RETRIES:
                time.sleep(0.5 * (attempt + 1))
                continue
            raise UserError(f"--storage: cannot open {url.split('@')[-1]} "
                            f"({' '.join(str(e).split())[:200]})") from e
    raise AssertionError("unreachable")


def distributions(space: SearchSpace, shape: str) -> dict:
    """Optuna's params of a trial: the family's dims and lr (the MLP's: skip_dim, inner_dim,
    depth, lr), the lr any of the shape's lr ladder (its grid unless lr_extend)."""
    s = space.shapes[shape]
    return {**{k: CategoricalDistribution(v) for k, v in s.dims.items()},
            "lr": CategoricalDistribution(space.lr_ladder(shape))}


def trial_key(unit: Unit, seed: int, epochs: int) -> str:
    return f"{unit.key}-s{seed}-e{epochs}"


@dataclass
class Record:
    """One trial as the strategies and results see it."""

    number: int
    shape: str
    unit: Unit
    seed: int
    epochs: int
    state: str  # complete | failed | running | killed | duplicate | waiting
    values: tuple[float, float] | None  # (params, metric) when complete
    attrs: dict

    @property
    def key(self) -> str:
        return trial_key(self.unit, self.seed, self.epochs)

    @property
    def claims(self) -> bool:
        """Whether this trial holds its key (finished, failed for a reason, or running)."""
        return self.state in ("complete", "failed", "running")


def _state(t: optuna.trial.FrozenTrial) -> str:
    if t.state == TrialState.COMPLETE:
        return "duplicate" if t.user_attrs.get("repeat") else "complete"
    if t.state == TrialState.RUNNING:
        return "running"
    if t.state == TrialState.WAITING:
        return "waiting"
    if t.user_attrs.get("duplicate"):
        return "duplicate"
    return "failed" if t.user_attrs.get("failure") else "killed"


class Store:
    def __init__(self, space: SearchSpace, out: Path, url: str | None) -> None:
        self.space, self.url = space, url
        self.storage = open_storage(url, out)
        self.studies: dict[str, optuna.Study] = {}  # where new trials go
        self.earlier: dict[str, list[optuna.Study]] = {}  # narrower spaces, read only
        names = {s.study_name for s in self.storage.get_all_studies()}
        for shape in space.shapes:
            self.studies[shape], self.earlier[shape] = self._open(shape, names, out)
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.owner = uuid.uuid4().hex  # tells this store's trials from an earlier one's in-process

    def _open(self, shape: str, names: set[str], out: Path) -> tuple[optuna.Study, list]:
        """This space's study for the shape and the earlier generations it widens."""
        base = f"{self.space.name}:{shape}"
        have = []
        while (name := f"{base}:{len(have) + 1}" if have else base) in names:
            have.append(optuna.load_study(study_name=name, storage=self.storage))
        wanted = self.space.to_dict()
        # (params, metric): fewer parameters, and the task's metric up (bits per char down)
        directions = ["minimize", "maximize" if DIRECTIONS[metric_name(self.space.task)] > 0
                      else "minimize"]
        stored = have[-1].user_attrs.get("space") if have else None
        if have and stored in (None, wanted):  # None: its creator died before labelling it
            current, have = have[-1], have[:-1]
        elif have and not extends(wanted, stored):
            raise UserError(f"{out} holds a search of a different space {self.space.name!r}; "
                            "use another --out (or --storage), the same space, or one that "
                            "only adds values to its lists")
        else:
            current = optuna.create_study(storage=self.storage, study_name=name,
                                          load_if_exists=True, directions=directions)
            if have and not current.get_trials(deepcopy=False):
                self._seed_history(current, have, shape)
        if current.user_attrs.get("space") != wanted:
            current.set_user_attr("space", wanted)
        return current, have

    def _seed_history(self, study: optuna.Study, earlier: list[optuna.Study], shape: str) -> None:
        """Copy the narrower generations' results into a new one as told repeats, so its
        NSGA-II sampler starts from what they learned. A repeat is a duplicate record: it
        holds no key and never reaches trials.csv, so nothing is counted twice."""
        dists = distributions(self.space, shape)
        study.add_trials([
            optuna.trial.create_trial(params=t.params, distributions=dists, values=t.values,
                                      user_attrs={**t.user_attrs, "repeat": True})
            for old in earlier for t in old.get_trials(deepcopy=False,
                                                       states=(TrialState.COMPLETE,))
            if not t.user_attrs.get("repeat") and set(dists).issubset(t.params)])

    def _all(self) -> list[tuple[str, optuna.Study]]:
        return [(shape, s) for shape, now in self.studies.items()
                for s in [*self.earlier[shape], now]]

    def records(self) -> list[Record]:
        out = []
        # every trial's parameters: each dim but an optional one at its default, and lr
        names = {d.name for d in get_family(self.space.family).dims if not d.optional} | {"lr"}
        offset = dict.fromkeys(self.studies, 0)  # numbers run on across generations
        for shape, study in self._all():
            trials = study.get_trials(deepcopy=False)
            number0, offset[shape] = offset[shape], offset[shape] + len(trials)
            for t in trials:
                if "key" not in t.user_attrs:
                    continue
                # enqueued params are written at once; sampled ones one by one, so another
                # process may see a trial whose params are not all there yet
                p = t.system_attrs.get("fixed_params") or t.params
                if not names.issubset(p):
                    continue
                unit = unit_of(self.space.family, shape, p)
                out.append(Record(number0 + t.number, shape, unit, int(t.user_attrs["seed"]),
                                  int(t.user_attrs["epochs"]), _state(t),
                                  tuple(t.values) if t.values else None, dict(t.user_attrs)))
        return out

    def reap_dead_workers(self) -> int:
        """Fail running trials whose worker is gone, so their keys are run again."""
        n = 0
        for _, study in self._all():
            if self.url and self.url.startswith("postgresql"):
                optuna.storages.fail_stale_trials(study)
            for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                if (t.user_attrs.get("host") == self.host and self._gone(t.user_attrs)) \
                        or _orphan(t):
                    self.storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
                    n += 1
        return n

    def _gone(self, attrs: dict) -> bool:
        """Whether the worker that runs a trial of this host has stopped: its process is dead,
        or it is this process under an earlier store (an earlier search in the same Python
        session, whose record of the trial's end was lost with a damaged journal)."""
        pid = attrs.get("pid")
        if pid == self.pid:
            return attrs.get("owner") not in (None, self.owner)
        return not _alive(pid)

    def claim(self, unit: Unit, seed: int, epochs: int, **attrs) -> optuna.Trial | None:
        """A running trial for (unit, seed, epochs), or None when another worker has it."""
        study = self.studies[unit.arch.shape]
        key = trial_key(unit, seed, epochs)
        params = {**unit.arch.values, "lr": unit.lr}
        study.enqueue_trial(params, user_attrs={"key": key, "seed": seed, "epochs": epochs,
                                                **attrs})
        return self._own(study, study.ask(distributions(self.space, unit.arch.shape)))

    def sample(self, shape: str, seed: int, epochs: int, **attrs) -> optuna.Trial:
        """A trial whose params the study's sampler chooses (NSGA-II)."""
        study = self.studies[shape]
        trial = study.ask(distributions(self.space, shape))
        unit = unit_of(self.space.family, shape, trial.params)
        for k, v in {"key": trial_key(unit, seed, epochs), "seed": seed, "epochs": epochs,
                     "host": self.host, "pid": self.pid, "owner": self.owner,
                     **attrs}.items():
            trial.set_user_attr(k, v)
        return trial

    def _own(self, study: optuna.Study, trial: optuna.Trial) -> optuna.Trial | None:
        key = trial.user_attrs.get("key")
        if key is None:  # a sampler-made trial: no one enqueued it (cannot happen after enqueue)
            study.tell(trial, state=TrialState.FAIL)
            return None
        # labelled first: a kill from here on leaves a trial whose dead worker is known
        trial.set_user_attr("pid", self.pid)
        trial.set_user_attr("owner", self.owner)
        trial.set_user_attr("host", self.host)
        for t in study.get_trials(deepcopy=False):
            if t.number == trial.number or t.user_attrs.get("key") != key:
                continue
            st = _state(t)
            if st in ("complete", "failed") or (st == "running" and t.number < trial.number):
                trial.set_user_attr("duplicate", True)
                study.tell(trial, state=TrialState.FAIL)
                return None
        return trial

    def heartbeat(self, trial: optuna.Trial) -> threading.Event:
        """Keep a PostgreSQL heartbeat for the trial until the returned event is set."""
        stop = threading.Event()
        if isinstance(self.storage, optuna.storages.RDBStorage):
            def beat() -> None:
                while not stop.wait(HEARTBEAT_S):
                    self.storage.record_heartbeat(trial._trial_id)
            self.storage.record_heartbeat(trial._trial_id)
            threading.Thread(target=beat, daemon=True).start()
        return stop

    def tell(self, trial: optuna.Trial, values: tuple[float, float] | None, failure: str | None,
             **attrs) -> None:
        study = trial.study
        for k, v in attrs.items():
            trial.set_user_attr(k, v)
        if failure is not None:
            trial.set_user_attr("failure", failure[:500])
            study.tell(trial, state=TrialState.FAIL)
        else:
            study.tell(trial, list(values))


def unit_of(family: str, shape: str, params: dict) -> Unit:
    return Unit(Arch.of(shape, family, params), float(params["lr"]))


def _orphan(t: optuna.trial.FrozenTrial) -> bool:
    """A running trial whose worker died between popping it and labelling it (any host)."""
    return "host" not in t.user_attrs and t.datetime_start is not None and (
        datetime.datetime.now() - t.datetime_start).total_seconds() > ORPHAN_S


def _alive(pid) -> bool:
    if not isinstance(pid, int):
        return True  # unknown: never reap what we cannot check
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
