"""The `hourglass` command. Every user error is one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import json
import sys
from typing import NoReturn

from hourglass import data
from hourglass.compare import DEFAULT_MINUTES, compare
from hourglass.data import SPLIT_RNGS
from hourglass.errors import UserError
from hourglass.models import INPUT_PROJS
from hourglass.report import write_report
from hourglass.search import BUILTINS, STRATEGIES, SearchOptions, load_space, search
from hourglass.tasks import TASKS
from hourglass.training import TrainConfig, count_run_params, evaluate_run, parallel, train
from hourglass.training.config import LR_SCHEDULES, TEST_CHECKPOINTS
from hourglass.training.predict import predict


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2), like every user error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def inner_dims(value: str) -> int | list[int]:
    try:
        dims = [int(v) for v in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: give N or N,N,... (one per block)") from None
    return dims[0] if len(dims) == 1 else dims


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", default="denoise", choices=TASKS)
    p.add_argument("--dataset", default="digits",
                   help="digits, mnist, fashion-mnist, cifar10, imagenet32 or folder:PATH")
    p.add_argument("--skip-dim", type=int, required=True, help="d_z: width of the skip path")
    p.add_argument("--inner-dim", type=inner_dims, required=True,
                   help="d_h: width inside each block; N, or N,N,... one per block")
    p.add_argument("--depth", type=int, required=True, help="L: number of residual blocks")
    p.add_argument("--input-proj", default="learned", choices=INPUT_PROJS,
                   help="learned W_in, fixed (frozen random, stored as a seed), or identity")
    p.add_argument("--shape", choices=("hourglass", "conventional"),
                   help="check that the dims make this shape")
    p.add_argument("--norm", default="batch", choices=("batch", "layer", "rms", "none"))
    p.add_argument("--act", default="relu", choices=("relu", "gelu"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", help="where datasets live (default $HOURGLASS_DATA_DIR or ./data)")
    p.add_argument("--image-size", help="folder datasets: resize to N or HxW")
    p.add_argument("--channels", type=int, choices=(1, 3), help="folder datasets: 1 or 3")


def add_search_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="search directory (re-run to resume)")
    p.add_argument("--strategy", default="grid", choices=STRATEGIES)
    p.add_argument("--max-trials", type=int,
                   help="most architecture x lr units to start (seeds are not counted)")
    p.add_argument("--time-budget", type=float, metavar="MIN",
                   help="start no trial after this many minutes")
    p.add_argument("--workers", type=int, default=1, help="worker processes on this machine")
    p.add_argument("--storage", help="postgresql://... to share one study across machines")
    p.add_argument("--eta", type=int, default=3, help="pareto-halving reduction factor")
    p.add_argument("--population", default="auto", choices=("auto", "on", "off"),
                   help="grid: train each architecture's lr x seed trials as one population "
                        "(auto: on a GPU; on a CPU it does not pay)")
    p.add_argument("--data-dir")
    p.add_argument("--quiet", action="store_true")


def search_options(args: argparse.Namespace) -> SearchOptions:
    return SearchOptions(strategy=args.strategy, max_trials=args.max_trials,
                         time_budget_min=args.time_budget, workers=args.workers,
                         storage=args.storage, data_dir=args.data_dir, eta=args.eta,
                         population=args.population, progress=not args.quiet)


def config_from(args: argparse.Namespace) -> TrainConfig:
    keys = {f for f in TrainConfig.__dataclass_fields__ if f != "extra"}
    return TrainConfig(**{k: v for k, v in vars(args).items() if k in keys and v is not None})


def build_parser() -> Parser:
    parser = Parser(prog="hourglass", description="Hourglass vs conventional residual MLPs.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("train", help="train one model into a run directory")
    add_model_args(p)
    p.add_argument("--epochs", type=int, help="default: the paper's recipe for the task")
    p.add_argument("--batch-size", type=int, help="default: 128 (ImageNet-32: 512)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--noise-std", type=float, default=0.25, help="denoise noise level")
    p.add_argument("--augment", default="none", choices=("none", "flip4"))
    p.add_argument("--split-rng", choices=SPLIT_RNGS,
                   help="permutation the eval split is cut from (default numpy, the authors'; "
                        "torch: this tool's split before recipe v2)")
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES,
                   help="linear decay stepped per epoch or per step (default: epoch on MNIST "
                        "and Fashion-MNIST, as the authors; step elsewhere)")
    p.add_argument("--test-checkpoint", choices=TEST_CHECKPOINTS,
                   help="model the test score is taken from: last (the final one) or best "
                        "(lowest eval loss) (default: last on MNIST and Fashion-MNIST, as the "
                        "authors; best elsewhere)")
    p.add_argument("--train-limit", type=int, help="use only the first N training images")
    p.add_argument("--eval-limit", type=int, help="use only the first N eval and test images")
    p.add_argument("--out", required=True, help="run directory to create")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--engine", choices=("auto", "stacked", "plain"), default="auto",
                   help="stacked: batched matmuls and a hand-written backward (the fast path); "
                        "plain: the module with autograd; auto: stacked where it applies")
    p.add_argument("--device", default="auto",
                   help="auto (a GPU when there is one; under torchrun, each process's own), "
                        "cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int,
                   help="CPU threads (default: PyTorch's); the same count makes a CPU rerun "
                        "bit-exact")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("params", help="parameter and FLOP counts, without loading data")
    add_model_args(p)

    p = sub.add_parser("eval", help="recompute a run's test metrics from its checkpoint")
    p.add_argument("run_dir")
    p.add_argument("--data-dir")

    p = sub.add_parser("predict", help="apply a trained model to an image file")
    p.add_argument("run_dir")
    p.add_argument("image")
    p.add_argument("-o", "--out", help="output image (denoise, superres, prototype)")

    p = sub.add_parser("search", help="search architectures x learning rates x seeds")
    p.add_argument("space", help=f"a TOML file or a built-in: {', '.join(BUILTINS)}")
    add_search_args(p)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--deadline", type=float, help=argparse.SUPPRESS)

    p = sub.add_parser("report", help="write report.html and frontier.png for a search")
    p.add_argument("dir")

    p = sub.add_parser("compare", help="the main job: search both shapes, then report")
    p.add_argument("--task", default="denoise", choices=TASKS)
    p.add_argument("--dataset", default="digits")
    p.add_argument("--budget-minutes", type=float, default=DEFAULT_MINUTES)
    p.add_argument("--out", default="runs/compare")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--data-dir")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("data", help="list or download datasets")
    dsub = p.add_subparsers(dest="data_command", required=True, parser_class=Parser)
    q = dsub.add_parser("list", help="which datasets are found, and where")
    q.add_argument("--data-dir")
    q.add_argument("--json", action="store_true")
    q = dsub.add_parser("download", help="fetch a dataset, verifying checksums")
    q.add_argument("name")
    q.add_argument("--data-dir")
    return parser


def print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2))


def run(args: argparse.Namespace) -> None:
    if args.command == "train":
        # under torchrun: every process trains its share of each batch; rank 0 reports
        parallel.join_group(parallel.resolve_device(args.device))
        reports = parallel.is_main()
        if args.threads is not None:
            if args.threads < 1:
                raise UserError(f"--threads must be at least 1, got {args.threads}")
            import torch

            torch.set_num_threads(args.threads)
        try:
            metrics = train(config_from(args), args.out, resume=args.resume, engine=args.engine,
                            progress=not args.quiet, device=args.device)
        finally:
            parallel.leave_group()
        if reports:
            print_json(metrics)
    elif args.command == "params":
        print_json(count_run_params(config_from(args)))
    elif args.command == "eval":
        print_json(evaluate_run(args.run_dir, args.data_dir))
    elif args.command == "predict":
        print_json(predict(args.run_dir, args.image, args.out))
    elif args.command == "search":
        result = search(args.space, load_space(args.space), args.out, search_options(args),
                        deadline=args.deadline, worker_only=args.worker)
        if not args.worker:
            print_json({k: result[k] for k in ("trials", "finished", "failed", "compute",
                                                "grid_compute", "hypervolume")})
    elif args.command == "report":
        print(write_report(args.dir))
    elif args.command == "compare":
        result = compare(args.task, args.dataset, args.out, args.budget_minutes,
                         args.data_dir, args.workers, progress=not args.quiet)
        print_json({k: result[k] for k in ("trials", "finished", "failed", "minutes",
                                            "hypervolume")})
        print(f"report: {args.out}/report.html")
    elif args.data_command == "list":
        rows = data.list_datasets(args.data_dir)
        if args.json:
            print_json(rows)
            return
        print(f"data directory: {data.resolve_data_dir(args.data_dir)}")
        for r in rows:
            shape = "x".join(map(str, r["shape"]))
            print(f"  {r['name']:<14} {'found  ' if r['found'] else 'missing'} {shape:<8} "
                  f"{r['path']}")
    else:
        print(f"downloaded to {data.download(args.name, args.data_dir)}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except UserError as e:
        print(f"hourglass: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hourglass: interrupted; finished epochs are kept (--resume continues)",
              file=sys.stderr)
        return 130
    return 0


def entry() -> NoReturn:
    """The ``hourglass`` command and ``python -m hourglass`` (torchrun's way in)."""
    parallel.exit_process(main())
