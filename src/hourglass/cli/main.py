"""The `hourglass` command. Every user error is one line on stderr and exit status 2.

The parser is cli/parser.py. Each command imports what it needs when it runs, so `hourglass`,
`--version` and every `--help` answer without PyTorch.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import NoReturn

from hourglass.cli.parser import build_parser
from hourglass.core.errors import UserError
from hourglass.models.family import DEFAULT_FAMILY, VARIANTS
from hourglass.models.registry import get_family, load_plugin


def search_options(args: argparse.Namespace):
    from hourglass.search import SearchOptions

    return SearchOptions(strategy=args.strategy, max_trials=args.max_trials,
                         time_budget_min=args.time_budget, workers=args.workers,
                         storage=args.storage, data_dir=args.data_dir, eta=args.eta,
                         progress=not args.quiet, other_space=args.other_space)


def config_from(args: argparse.Namespace):
    """The run's TrainConfig: a --variant's settings, then every flag given."""
    from hourglass.training import TrainConfig

    settings = dict(VARIANTS[args.variant]) if args.variant else {}
    # what a variant states it reaches holds for its own recipe, not for every run made from
    # it (other epochs, say): the run records the variant's name, not its claim
    settings.pop("extra", None)
    if args.variant:
        settings["extra"] = {"variant": args.variant}
    arch = dict(settings.pop("arch", {}))
    arch.update({k[5:]: v for k, v in vars(args).items()
                 if k.startswith("arch_") and v is not None})
    keys = {f for f in TrainConfig.__dataclass_fields__ if f not in ("extra", "arch")}
    settings.update({k: v for k, v in vars(args).items() if k in keys and v is not None})
    family = get_family(settings.get("family", DEFAULT_FAMILY))
    settings.setdefault("task", "denoise" if "denoise" in family.tasks else family.default_task)
    settings.setdefault("dataset", family.default_dataset)
    missing = [f"--{k.replace('_', '-')}" for k in ("skip_dim", "inner_dim", "depth")
               if k not in settings]
    if missing:
        raise UserError(f"give {', '.join(missing)} (or a --variant)")
    return TrainConfig(**settings, arch=arch)


def print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2))


def refuse_removed_options(args: argparse.Namespace) -> None:
    """An option whose feature is gone is one clear error saying what replaced it, never
    silently ignored."""
    if getattr(args, "engine", None) is not None:
        raise UserError("--engine was removed (the stacked engine did not pay 1.3x on whole "
                        "epochs): every model trains on one autograd path; drop the flag")
    if getattr(args, "population", None) is not None:
        raise UserError("--population was removed (it did not pay on CPUs): a search's "
                        "trials train one at a time per worker (--workers N); drop the flag")


def run(args: argparse.Namespace) -> None:
    refuse_removed_options(args)
    if args.command == "train":
        # every flag is checked before PyTorch loads (seconds here): a bad one is refused at once
        if args.threads is not None and args.threads < 1:
            raise UserError(f"--threads must be at least 1, got {args.threads}")
        config = config_from(args)
        config.resolved()
        from hourglass.training import parallel, train

        # under torchrun: every process trains its share of each batch; rank 0 reports
        parallel.join_group(parallel.resolve_device(args.device))
        reports = parallel.is_main()
        if args.threads is not None:
            import torch

            torch.set_num_threads(args.threads)
        try:
            metrics = train(config, args.out, resume=args.resume, progress=not args.quiet,
                            device=args.device)
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
                                       skips, args.ratios)]
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

        print_json(evaluate_run(args.run_dir, args.data_dir, inner_dim=args.inner_dim,
                                rank=args.rank, data_changed_ok=args.data_changed_ok,
                                test_flip=args.test_flip))
    elif args.command == "predict":
        from hourglass.training.predict import predict

        print_json(predict(args.run_dir, args.image, args.out))
    elif args.command == "sample":
        from hourglass.training.sample import sample

        prompt = "\n" if args.prompt is None else args.prompt
        print(sample(args.run_dir, prompt, args.tokens, args.temperature, args.seed))
    elif args.command == "search":
        from hourglass.search import load_space

        space = load_space(args.space, args.data_dir)  # a bad space is refused before PyTorch loads
        from hourglass.report import write_report
        from hourglass.search import search

        result = search(args.space, space, args.out, search_options(args),
                        deadline=args.deadline, worker_only=args.worker,
                        after_budget=args.after_budget)
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
        if args.others:
            from hourglass.report.overlay import write_overlay

            print(write_overlay(args.dir, args.others))
    elif args.command == "compare":
        from hourglass.cli.compare import compare

        result = compare(args.task, args.dataset, args.out, args.budget_minutes,
                         args.data_dir, args.workers, progress=not args.quiet,
                         family=args.family)
        print_json({k: result[k] for k in ("trials", "finished", "failed", "minutes",
                                            "hypervolume", "after_budget")})
        print(f"report: {args.out}/report.html")
    elif args.data_command == "list":
        from hourglass import data

        rows = data.list_datasets(args.data_dir)
        if args.json:
            print_json(rows)
            return
        print(f"data directory: {data.resolve_data_dir(args.data_dir)}")
        for r in rows:
            shape = "x".join(map(str, r["shape"])) if r["shape"] else "text"
            print(f"  {r['name']:<16} {'found  ' if r['found'] else 'missing'} {shape:<8} "
                  f"{r['path']}")
            if r.get("hint"):
                print(f"  {'':<16} {r['hint']}")
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


def plugins_named(argv: list[str]) -> list[str]:
    """The values of every --plugin in ``argv`` (``--plugin X`` or ``--plugin=X``)."""
    found = []
    for i, arg in enumerate(argv):
        if arg == "--plugin" and i + 1 < len(argv):
            found.append(argv[i + 1])
        elif arg.startswith("--plugin="):
            found.append(arg.split("=", 1)[1])
    return found


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:  # before the parser: a plug-in's family is then one of --family's choices
        for plugin in plugins_named(argv):
            load_plugin(plugin)
        parser = build_parser()
    except UserError as e:
        print(f"hourglass: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
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
