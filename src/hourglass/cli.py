"""The `hourglass` command. Every user error is one line on stderr and exit status 2.

Only the standard library and ``hourglass.options`` load at start: each command imports what it
needs when it runs, so `hourglass`, `--version` and every `--help` answer without PyTorch.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import NoReturn

from hourglass import __version__
from hourglass.errors import UserError
from hourglass.models.family import VARIANTS, families  # arithmetic only: no PyTorch
from hourglass.options import (
    AUGMENTS,
    COMPARE_MINUTES,
    DATASETS,
    ENGINES,
    INPUT_PROJS,
    LR_SCHEDULES,
    MODEL_ACTS,
    NORMS,
    POPULATION,
    SPLIT_RNGS,
    STRATEGIES,
    TASKS,
    TEST_CHECKPOINTS,
)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2), like every user error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class Help(argparse.RawDescriptionHelpFormatter):
    """Each option's default after its help (where it has one); descriptions and examples
    kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "default" not in text:
            text += " (default: %(default)s)"
        return text


def command(sub, name: str, summary: str, examples: str, description: str = "") -> Parser:
    return sub.add_parser(name, help=summary, description=description or summary,
                          epilog="examples:\n" + examples, formatter_class=Help)


def inner_dims(value: str) -> int | list[int]:
    try:
        dims = [int(v) for v in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: give N or N,N,... (one per block)") from None
    return dims[0] if len(dims) == 1 else dims


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", default="denoise", choices=TASKS, help="what the model learns")
    p.add_argument("--dataset", default="digits",
                   help=f"{DATASETS}; digits is scikit-learn's bundled 8x8 set")
    p.add_argument("--family", choices=tuple(families()),
                   help="model family (default mlp; a --variant sets its own)")
    p.add_argument("--variant", choices=tuple(VARIANTS),
                   help="a named configuration (family and dims); flags given override it")
    p.add_argument("--skip-dim", type=int,
                   help="d_z: width of the skip path (the residual stream)")
    p.add_argument("--inner-dim", type=inner_dims,
                   help="d_h: width inside each block; N, or N,N,... one per block (mlp)")
    p.add_argument("--depth", type=int, help="L: number of residual blocks (vit: layers)")
    seen = set()
    for fam in families().values():
        for dim in fam.extra_dims:
            if dim.name not in seen:
                seen.add(dim.name)
                p.add_argument(f"--{dim.name.replace('_', '-')}", type=int,
                               dest=f"arch_{dim.name}",
                               help=f"{fam.name}: {dim.help} (default {dim.default})")
    p.add_argument("--input-proj", default="learned", choices=INPUT_PROJS,
                   help="mlp: learned W_in, fixed (frozen random, stored as a seed), or "
                        "identity")
    p.add_argument("--shape", choices=("hourglass", "conventional"),
                   help="check that the dims make this shape")
    p.add_argument("--norm", choices=NORMS,
                   help="pre-norm inside each block (default: mlp batch, without affine "
                        "parameters; vit layer)")
    p.add_argument("--act", choices=MODEL_ACTS,
                   help="activation inside each block (default: mlp relu, vit gelu; swiglu: "
                        "vit only)")
    p.add_argument("--seed", type=int, default=0, help="initialisation, batch order and noise")
    p.add_argument("--data-dir", help="where datasets live (default $HOURGLASS_DATA_DIR, else "
                                      "./data)")
    p.add_argument("--image-size", help="folder datasets: resize to N or HxW")
    p.add_argument("--channels", type=int, choices=(1, 3), help="folder datasets: 1 or 3")


def add_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int,
                   help="default: the paper's, 30 for denoise and classify, 50 for prototype and "
                        "superres (ImageNet-32: 2)")
    p.add_argument("--batch-size", type=int, help="default: 128 (ImageNet-32: 512)")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of AdamW")
    p.add_argument("--weight-decay", type=float, default=0.01, help="AdamW's")
    p.add_argument("--noise-std", type=float, default=0.25, help="denoise: noise level")
    p.add_argument("--augment", choices=AUGMENTS,
                   help="flip4: the authors' x4 copy of the training set (identity, h, v, "
                        "both); crop-flip: random 4-pixel-padded crops and horizontal flips, "
                        "drawn per batch (default: none; vit classification: crop-flip)")
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
    p.add_argument("--eval-limit", type=int,
                   help="use only the first N eval images and a seeded sample of N test images")
    p.add_argument("--out", required=True, help="run directory to create")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)  # removed
    p.add_argument("--device", default="auto",
                   help="auto (a GPU when there is one; under torchrun, each process's own), "
                        "cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int,
                   help="CPU threads (default: PyTorch's); the same count makes a CPU rerun "
                        "bit-exact")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_search_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="search directory (re-run to resume)")
    p.add_argument("--strategy", default="grid", choices=STRATEGIES,
                   help="grid: every trial (the paper's method); pareto-halving: short runs "
                        "first, the best promoted to more epochs")
    p.add_argument("--max-trials", type=int,
                   help="most architecture x lr units to start (seeds are not counted)")
    p.add_argument("--time-budget", type=float, metavar="MIN",
                   help="start no trial after this many minutes")
    p.add_argument("--workers", type=int, default=1, help="worker processes on this machine")
    p.add_argument("--storage", help="postgresql://... to share one study across machines "
                                     "(default: a journal file in --out)")
    p.add_argument("--eta", type=int, default=3, help="pareto-halving reduction factor")
    p.add_argument("--population", choices=POPULATION, help=argparse.SUPPRESS)  # removed
    p.add_argument("--data-dir", help="where datasets live")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def search_options(args: argparse.Namespace):
    from hourglass.search import SearchOptions

    return SearchOptions(strategy=args.strategy, max_trials=args.max_trials,
                         time_budget_min=args.time_budget, workers=args.workers,
                         storage=args.storage, data_dir=args.data_dir, eta=args.eta,
                         progress=not args.quiet)


def config_from(args: argparse.Namespace):
    """The run's TrainConfig: a --variant's settings, then every flag given."""
    from hourglass.training import TrainConfig

    settings = dict(VARIANTS[args.variant]) if args.variant else {}
    arch = dict(settings.pop("arch", {}))
    arch.update({k[5:]: v for k, v in vars(args).items()
                 if k.startswith("arch_") and v is not None})
    keys = {f for f in TrainConfig.__dataclass_fields__ if f not in ("extra", "arch")}
    settings.update({k: v for k, v in vars(args).items() if k in keys and v is not None})
    missing = [f"--{k.replace('_', '-')}" for k in ("skip_dim", "inner_dim", "depth")
               if k not in settings]
    if missing:
        raise UserError(f"give {', '.join(missing)} (or a --variant)")
    return TrainConfig(**settings, arch=arch)


TOP = """examples:
  hourglass compare                  # the main job on the bundled digits: ~30 s, then
                                     # open runs/compare/report.html
  hourglass train --skip-dim 256 --inner-dim 32 --depth 4 --out runs/a
  hourglass spaces                   # the built-in search spaces

`hourglass COMMAND --help` explains each command, with examples."""


def build_parser() -> Parser:
    parser = Parser(prog="hourglass", formatter_class=Help, epilog=TOP,
                    description="Build, train and compare Hourglass (wide-narrow-wide) and "
                                "conventional (narrow-wide-narrow) residual MLPs.")
    parser.add_argument("--version", action="version", version=f"hourglass-mlp {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")

    p = command(sub, "compare", "the main job: search both shapes, then write the report",
                "  hourglass compare                          # digits denoising, ~30 s\n"
                "  hourglass compare --family vit             # ViTs, digits classification\n"
                "  hourglass compare --task superres --dataset mnist --data-dir data "
                "--budget-minutes 30\n",
                "Searches Hourglass and conventional networks with pareto-halving under a time "
                "budget, then writes\ntrials.csv, frontier.json, frontier.png, summary.md and "
                "report.html into --out.")
    p.add_argument("--family", default="mlp", choices=tuple(families()),
                   help="model family whose two shapes are compared")
    p.add_argument("--task", choices=TASKS,
                   help="what the models learn (default: the family's, denoise for mlp, "
                        "classify for vit)")
    p.add_argument("--dataset", default="digits", help=DATASETS)
    p.add_argument("--budget-minutes", type=float, default=COMPARE_MINUTES,
                   help="start no trial after this many minutes (the grid may finish sooner)")
    p.add_argument("--out", default="runs/compare", help="search directory (re-run to resume)")
    p.add_argument("--workers", type=int, default=1, help="worker processes on this machine")
    p.add_argument("--data-dir", help="where datasets live")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = command(sub, "train", "train one model into a run directory",
                "  hourglass train --skip-dim 256 --inner-dim 32 --depth 4 --out runs/a\n"
                "  hourglass train --task prototype --dataset mnist --data-dir data "
                "--skip-dim 785 --inner-dim 115 \\\n      --depth 4 --out runs/b --threads 1\n",
                "Trains with the paper's recipe (PROTOCOL.md) and writes config.json, "
                "history.csv,\nmodel.safetensors, metrics.json and samples.png into --out.")
    add_model_args(p)
    add_train_args(p)

    p = command(sub, "eval", "recompute a run's test metrics from its checkpoint",
                "  hourglass eval runs/a\n")
    p.add_argument("run_dir", help="a run directory written by `hourglass train`")
    p.add_argument("--data-dir", help="where datasets live, if not where the run found them")

    p = command(sub, "predict", "apply a trained model to an image file",
                "  hourglass predict runs/a noisy.png -o clean.png\n"
                "  hourglass predict runs/classifier digit.png      # prints the class\n",
                "The image is converted to the model's size and channels (what was converted "
                "is reported);\nthe output image goes to -o (denoise, superres, prototype).")
    p.add_argument("run_dir", help="a finished run directory written by `hourglass train`")
    p.add_argument("image", help="a PNG, JPEG or any image file Pillow reads")
    p.add_argument("-o", "--out", help="output image (denoise, superres, prototype)")

    p = command(sub, "params", "parameter and FLOP counts, without loading data",
                "  hourglass params --dataset mnist --skip-dim 785 --inner-dim 115 --depth 4\n")
    add_model_args(p)

    p = command(sub, "match", "configurations of the other shape at the same budget",
                "  hourglass match --family vit --dataset cifar10 --task classify "
                "--variant vit-c10-conventional\n"
                "  hourglass match --dataset mnist --skip-dim 784 --inner-dim 1470 --depth 1 "
                "--by flops\n",
                "Given one configuration, lists configurations of the other shape whose "
                "trainable\nnon-embedding parameters (or forward FLOPs) are within --tolerance "
                "of its own: for each\nskip width, depth and sub-block count tried, the inner "
                "width that hits the budget is solved for.")
    add_model_args(p)
    p.add_argument("--by", default="params", choices=("params", "flops"),
                   help="the budget: non-embedding trainable parameters, or FLOPs per sample")
    p.add_argument("--tolerance", type=float, default=0.05, help="relative, e.g. 0.05 = 5%%")
    p.add_argument("--depths", type=inner_dims, help="depths to try (N,N,...; default: "
                   "around the given one)")
    p.add_argument("--skip-dims", type=inner_dims, help="skip widths to try (N,N,...; "
                   "default: multiples of the given one)")
    p.add_argument("--json", action="store_true", help="print JSON rows instead of a table")

    p = command(sub, "search", "search architectures x learning rates x seeds",
                "  hourglass search quick-denoise --out runs/s\n"
                "  hourglass spaces quick-denoise > my.toml   # edit, then:\n"
                "  hourglass search my.toml --out runs/s2 --workers 2\n",
                "Trains every trial the strategy picks (re-running resumes: finished trials are "
                "kept),\nthen writes trials.csv, frontier.json and the report into --out.")
    p.add_argument("space", help="a TOML file or a built-in (`hourglass spaces` lists them)")
    add_search_args(p)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--deadline", type=float, help=argparse.SUPPRESS)

    p = command(sub, "spaces", "list the built-in search spaces, or print one as TOML",
                "  hourglass spaces\n  hourglass spaces quick-denoise > my.toml\n")
    p.add_argument("name", nargs="?", help="a built-in space to print as TOML")

    p = command(sub, "report", "write the report of a search directory",
                "  hourglass report runs/s\n",
                "Writes frontier.png, summary.md and report.html into the search directory "
                "and prints\nthe report's path.")
    p.add_argument("dir", help="a search directory (the --out of search or compare)")

    p = command(sub, "data", "list or download datasets",
                "  hourglass data list --data-dir data\n  hourglass data download mnist\n")
    dsub = p.add_subparsers(dest="data_command", required=True, parser_class=Parser)
    q = dsub.add_parser("list", help="which datasets are found, and where", formatter_class=Help)
    q.add_argument("--data-dir", help="where datasets live")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q = dsub.add_parser("download", help="fetch a dataset, verifying checksums",
                        formatter_class=Help)
    q.add_argument("name", help="mnist, fashion-mnist or cifar10")
    q.add_argument("--data-dir", help="where datasets live")
    return parser


def print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2))


def note_removed_options(args: argparse.Namespace) -> None:
    """Old commands keep working: an option whose feature is gone is accepted and noted."""
    if getattr(args, "engine", None) not in (None, "auto", "plain"):
        print(f"hourglass: note: --engine {args.engine} was removed (it did not pay 1.3x on "
              "whole epochs); every model trains on one autograd path", file=sys.stderr)
    if getattr(args, "population", None) == "on":
        print("hourglass: note: --population was removed (it did not pay on CPUs); trials "
              "train one at a time", file=sys.stderr)


def run(args: argparse.Namespace) -> None:
    note_removed_options(args)
    if args.command == "train":
        from hourglass.training import parallel, train

        # under torchrun: every process trains its share of each batch; rank 0 reports
        parallel.join_group(parallel.resolve_device(args.device))
        reports = parallel.is_main()
        if args.threads is not None:
            if args.threads < 1:
                raise UserError(f"--threads must be at least 1, got {args.threads}")
            import torch

            torch.set_num_threads(args.threads)
        try:
            metrics = train(config_from(args), args.out, resume=args.resume,
                            progress=not args.quiet, device=args.device)
        finally:
            parallel.leave_group()
        if reports:
            print_json(metrics)
    elif args.command == "params":
        from hourglass.training import count_run_params

        print_json(count_run_params(config_from(args)))
    elif args.command == "match":
        from hourglass.search.match import match

        depths, skips = ([v] if isinstance(v, int) else v for v in (args.depths, args.skip_dims))
        rows = [m.row() for m in match(config_from(args), args.by, args.tolerance, depths,
                                       skips)]
        if args.json:
            print_json(rows)
        elif not rows:
            print(f"no configuration of the other shape within {args.tolerance:.0%}; widen "
                  "--tolerance or give --depths / --skip-dims")
        else:
            cols = list(rows[0])
            widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
            for line in [cols, *([str(r[c]) for c in cols] for r in rows)]:
                print("  ".join(v.rjust(w) for v, w in zip(line, widths, strict=True)))
    elif args.command == "eval":
        from hourglass.training import evaluate_run

        print_json(evaluate_run(args.run_dir, args.data_dir))
    elif args.command == "predict":
        from hourglass.training.predict import predict

        print_json(predict(args.run_dir, args.image, args.out))
    elif args.command == "search":
        from hourglass.report import write_report
        from hourglass.search import load_space, search

        result = search(args.space, load_space(args.space), args.out, search_options(args),
                        deadline=args.deadline, worker_only=args.worker)
        if not args.worker:
            report = write_report(args.out) if result["finished"] else None
            print_json({k: result[k] for k in ("trials", "finished", "failed", "compute",
                                                "grid_compute", "hypervolume")})
            print(closing_line(result, args.out, report), file=sys.stderr)
            if not result["finished"]:
                raise UserError(f"no trial finished ({result['failed']} failed; trials.csv in "
                                f"{args.out} says why)")
    elif args.command == "spaces":
        from hourglass.search.builtins import BUILTINS, describe, toml

        if args.name is None:
            for name, make in BUILTINS.items():
                print(f"  {name:<24} {describe(make())}")
            print("print one as TOML: hourglass spaces NAME > space.toml")
        elif args.name in BUILTINS:
            print(toml({"name": args.name, **BUILTINS[args.name]()}), end="")
        else:
            raise UserError(f"no built-in space {args.name!r}; `hourglass spaces` lists them")
    elif args.command == "report":
        from hourglass.report import write_report

        print(write_report(args.dir))
    elif args.command == "compare":
        from hourglass.compare import compare

        result = compare(args.task, args.dataset, args.out, args.budget_minutes,
                         args.data_dir, args.workers, progress=not args.quiet,
                         family=args.family)
        print_json({k: result[k] for k in ("trials", "finished", "failed", "minutes",
                                            "hypervolume")})
        print(f"report: {args.out}/report.html")
    elif args.data_command == "list":
        from hourglass import data

        rows = data.list_datasets(args.data_dir)
        if args.json:
            print_json(rows)
            return
        print(f"data directory: {data.resolve_data_dir(args.data_dir)}")
        for r in rows:
            shape = "x".join(map(str, r["shape"]))
            print(f"  {r['name']:<14} {'found  ' if r['found'] else 'missing'} {shape:<8} "
                  f"{r['path']}")
            if r.get("hint"):
                print(f"  {'':<14} {r['hint']}")
    else:
        from hourglass import data

        print(f"downloaded to {data.download(args.name, args.data_dir)}")


def closing_line(result: dict, out: str, report) -> str:
    """The search's last line: what this run did, and where the results are."""
    ran = result.get("ran", 0)
    done = (f"trained {ran} trial{'s' * (ran != 1)}" if ran else
            "nothing left to train: every trial of this space was already in " + str(out))
    where = f"report: {report}" if report else f"trials: {out}/trials.csv"
    return (f"[search] {done}; {result['finished']} finished, {result['failed']} failed in "
            f"all; {where}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # a bare `hourglass`: the list of commands
        parser.print_help()
        return 0
    try:
        run(args)
    except UserError as e:
        print(f"hourglass: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hourglass: interrupted; finished epochs are kept (--resume continues)",
              file=sys.stderr)
        return 130
    except BrokenPipeError:  # `hourglass match ... | head`: the reader has what it wanted
        sys.stdout = None  # nothing more to flush at exit
        return 0
    return 0


def entry() -> NoReturn:
    """The ``hourglass`` command and ``python -m hourglass`` (torchrun's way in)."""
    code = main()
    parallel = sys.modules.get("hourglass.training.parallel")  # loaded by any run that trains
    if parallel is not None:
        parallel.exit_process(code)
    raise SystemExit(code)
