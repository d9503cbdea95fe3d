"""The `hourglass` command line: its parser, every command's options with their help and
examples (cli/main.py runs the commands). Only the standard library, ``hourglass.core``
and the families' arithmetic load here, so `hourglass`, `--version` and every `--help`
answer without PyTorch."""

from __future__ import annotations

import argparse

from hourglass.core.choices import (
    AUGMENTS,
    COMPARE_MINUTES,
    DATASETS,
    DROPOUT_MASKS,
    INPUT_NORMS,
    INPUT_PROJS,
    LR_SCHEDULES,
    MODEL_ACTS,
    NORMS,
    SPLIT_RNGS,
    STRATEGIES,
    TASKS,
    TEST_CHECKPOINTS,
)
from hourglass.core.version import __version__
from hourglass.models.family import DEFAULT_FAMILY, VARIANTS  # no PyTorch
from hourglass.models.registry import families


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
    p = sub.add_parser(name, help=summary, description=description or summary,
                       epilog="examples:\n" + examples, formatter_class=Help)
    # read before the parser is built (cli/main.py, plugins), so that the plug-in's family
    # is among --family's choices; listed here for the help and so argparse accepts it
    p.add_argument("--plugin", action="append", metavar="MODULE_OR_PATH",
                   help="load a model family from a module, a .py file or a package folder "
                        "(repeatable; search workers load it too)")
    return p


def inner_dims(value: str) -> int | list[int]:
    try:
        dims = [int(v) for v in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: give N or N,N,... (one per block)") from None
    return dims[0] if len(dims) == 1 else dims


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", choices=TASKS,
                   help="what the model learns (default: denoise; lm for the lm family)")
    p.add_argument("--dataset",
                   help=f"{DATASETS} (default: digits, scikit-learn's bundled 8x8 set; "
                        "moby-dick, embedded, for the lm task)")
    p.add_argument("--family", choices=tuple(families()),
                   help="model family (default mlp; a --variant sets its own)")
    p.add_argument("--variant", choices=tuple(VARIANTS),
                   help="a named configuration (family and dims); flags given override it")
    p.add_argument("--skip-dim", type=int,
                   help="d_z: width of the skip path (the residual stream)")
    p.add_argument("--inner-dim", type=inner_dims,
                   help="d_h: width inside each block; N, or N,N,... one per block (mlp)")
    p.add_argument("--depth", type=int, help="L: number of residual blocks (vit: layers)")
    owners: dict[str, list] = {}  # a dim several families share is one flag, named for each
    for fam in families().values():
        for dim in fam.extra_dims:
            owners.setdefault(dim.name, [dim]).append(fam.name)
    for name, (dim, *fams) in owners.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=int, dest=f"arch_{name}",
                       help=f"{', '.join(fams)}: {dim.help} (default {dim.default})")
    p.add_argument("--input-proj", default="learned", choices=INPUT_PROJS,
                   help="mlp: learned W_in, fixed (frozen random, stored as a seed), or "
                        "identity")
    p.add_argument("--block", default="plain",
                   help="mlp: the block, or a cheap-width variant: frozen (W1 frozen random), "
                        "lowrank:R, nested, hash:E (E hash-routed experts) or altup:K; "
                        "lm: plain or altup:K")
    p.add_argument("--shape", choices=("hourglass", "conventional"),
                   help="check that the dims make this shape")
    p.add_argument("--norm", choices=NORMS,
                   help="pre-norm inside each block (default: mlp batch, without affine "
                        "parameters; vit and mixer layer; lm rms)")
    p.add_argument("--act", choices=MODEL_ACTS,
                   help="activation inside each block (default: mlp relu, vit and mixer gelu, "
                        "lm swiglu; swiglu: not the mlp)")
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
    p.add_argument("--weight-decay", type=float,
                   help="AdamW's (default: 0.01, PyTorch's, as the authors; lm 0.1)")
    p.add_argument("--adam-beta2", type=float,
                   help="AdamW's second-moment decay (default: 0.999; lm 0.95)")
    p.add_argument("--warmup", type=int,
                   help="cosine schedule: steps of linear lr warm-up (default: 0; lm 100)")
    p.add_argument("--context", type=int,
                   help="lm: characters per training window (default 256)")
    p.add_argument("--recipe", type=int,
                   help="the recipe version the unset settings come from: 1 (this tool's "
                        "first), 2 (the paper's MNIST code path), 3 (2, with fast ViT "
                        "classification and LM recipes), 4 (3, with a ViT's or Mixer's "
                        "classification inputs standardised, batches of 64), 5 (4, with "
                        "a ViT classifier trained by Muon at 5x --lr), 6 (5, with the LM's "
                        "dropout masks from 16-bit random integers) (default: the latest, 6)")
    p.add_argument("--label-smoothing", type=float,
                   help="classify: smooth the training labels by this much (default: 0; from "
                        "recipe 3, vit and mixer 0.1)")
    p.add_argument("--dropout", type=float,
                   help="lm: dropout on attention and after each residual branch (default: "
                        "0; from recipe 3, 0.1)")
    p.add_argument("--attention-dropout", type=float,
                   help="lm: dropout on the attention weights alone (default: --dropout's); "
                        "0 lets the attention run PyTorch's fused kernel, a step 1.5x faster "
                        "here")
    p.add_argument("--dropout-masks", choices=DROPOUT_MASKS,
                   help="lm: how dropout draws its masks: torch (nn.Dropout's Bernoulli draws) "
                        "or int16 (from 16-bit random integers, p rounded to a multiple of "
                        "1/65,536: the same dropout, about 3x cheaper to draw) (default: "
                        "torch; from recipe 6, int16)")
    p.add_argument("--decay", choices=("all", "matrices"),
                   help="the parameters weight decay pulls: all, or the matrices only (not "
                        "norms, biases, positions) (default: all; lm, and from recipe 3 vit "
                        "and mixer classification, matrices)")
    p.add_argument("--input-norm", choices=INPUT_NORMS,
                   help="classify: none (images in [0, 1]) or channel (each channel standardised "
                        "by the training split's mean and std) (default: none; from recipe 4, "
                        "vit and mixer channel)")
    p.add_argument("--test-flip", action="store_true", default=None,
                   help="classify: score eval and test on the mean of each image's and its "
                        "horizontal mirror's logits (default: off)")
    p.add_argument("--ema", type=float, metavar="DECAY",
                   help="evaluate, test and save an exponential moving average of the weights "
                        "with this decay per step, e.g. 0.999 (default: 0, none)")
    p.add_argument("--drop-path", type=float, metavar="P",
                   help="vit: stochastic depth, P at the last layer, 0 at the first, linear "
                        "between; each residual branch dropped per sample (default: 0)")
    p.add_argument("--mixup", type=float, metavar="ALPHA",
                   help="classify: blend each training batch with itself reversed, lam ~ "
                        "Beta(ALPHA, ALPHA), soft targets (default: 0, none)")
    p.add_argument("--cutmix", type=float, metavar="ALPHA",
                   help="classify: paste a box of the reversed batch, area 1 - lam, lam ~ "
                        "Beta(ALPHA, ALPHA); with --mixup, each batch takes one (default: 0)")
    p.add_argument("--optimizer", choices=("adamw", "muon"),
                   help="adamw, or muon: Muon's orthogonalised momentum on the hidden weight "
                        "matrices (lm, vit), AdamW on the rest (default: adamw; from recipe "
                        "5, vit classification muon)")
    p.add_argument("--muon-lr", type=float,
                   help="--optimizer muon: Muon's peak lr, scheduled as --lr is (default: "
                        "0.02; from recipe 5, vit classification 5x --lr)")
    p.add_argument("--precision", choices=("fp32", "bf16"),
                   help="bf16: the training step's forward under bfloat16 autocast (matmuls "
                        "about 2x faster on CPUs with AVX-512 BF16 or AMX, 10x slower on "
                        "others; weights, optimizer and evaluation stay fp32) (default: fp32)")
    p.add_argument("--noise-std", type=float, default=0.25, help="denoise: noise level")
    p.add_argument("--augment", choices=AUGMENTS,
                   help="flip4: the authors' x4 copy of the training set (identity, h, v, "
                        "both); crop-flip: random 4-pixel-padded crops and horizontal flips, "
                        "drawn per batch; crop-flip-trivial: then one TrivialAugment operation "
                        "per image (default: none; vit classification: crop-flip)")
    p.add_argument("--split-rng", choices=SPLIT_RNGS,
                   help="permutation the eval split is cut from (default numpy, the authors'; "
                        "torch: this tool's split before recipe v2)")
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES,
                   help="linear decay stepped per epoch or per step, or warm-up and cosine "
                        "decay to lr/10 (default: epoch on MNIST and Fashion-MNIST, as the "
                        "authors; cosine for lm; step elsewhere)")
    p.add_argument("--test-checkpoint", choices=TEST_CHECKPOINTS,
                   help="model the test score is taken from: last (the final one) or best "
                        "(lowest eval loss) (default: last on MNIST and Fashion-MNIST, as the "
                        "authors; best elsewhere)")
    p.add_argument("--patience", type=int,
                   help="stop once this many epochs pass without a lower eval loss; the "
                        "schedule stays --epochs' and the best epoch's model is tested "
                        "(default: 0, every epoch)")
    p.add_argument("--train-limit", type=int, help="use only the first N training images")
    p.add_argument("--eval-limit", type=int,
                   help="use only the first N eval images and a seeded sample of N test images")
    p.add_argument("--out", required=True, help="run directory to create")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--engine", help=argparse.SUPPRESS)  # removed: refused with a note
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
                        "first, the best promoted to more epochs; lr-then-seeds: every lr at "
                        "the first seed (past a best grid end with the space's lr_extend), "
                        "then the other seeds at each network's best lr on the eval split")
    p.add_argument("--other-space", action="store_true",
                   help="add this space's search to a folder that holds another space's (its "
                        "trials.csv and report then show this one; by default refused)")
    p.add_argument("--max-trials", type=int,
                   help="most architecture x lr units to start (seeds are not counted)")
    p.add_argument("--time-budget", type=float, metavar="MIN",
                   help="start no trial after this many minutes")
    p.add_argument("--workers", type=int, default=1, help="worker processes on this machine")
    p.add_argument("--storage", help="postgresql://... to share one study across machines "
                                     "(default: a journal file in --out)")
    p.add_argument("--eta", type=int, default=3, help="pareto-halving reduction factor")
    p.add_argument("--population", help=argparse.SUPPRESS)  # removed: refused with a note
    p.add_argument("--data-dir", help="where datasets live")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


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
    p.add_argument("--family", default=DEFAULT_FAMILY, choices=tuple(families()),
                   help="model family whose two shapes are compared")
    p.add_argument("--task", choices=TASKS,
                   help="what the models learn (default: the family's, denoise for mlp, "
                        "classify for vit)")
    p.add_argument("--dataset", help=f"{DATASETS} (default: digits; moby-dick for lm)")
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
                "  hourglass eval runs/a\n"
                "  hourglass eval runs/nested --inner-dim 32     # a nested model's prefix\n")
    p.add_argument("run_dir", help="a run directory written by `hourglass train`")
    p.add_argument("--data-dir", help="where datasets live, if not where the run found them")
    p.add_argument("--inner-dim", type=int,
                   help="--block nested: test the model cut to its first N bottleneck units")
    p.add_argument("--rank", type=int, help="--block lowrank:R: test the model cut to rank N")
    p.add_argument("--data-changed-ok", action="store_true",
                   help="score the run even though its data changed since it trained (the "
                        "output says what changed; by default refused)")
    p.add_argument("--test-flip", action="store_true",
                   help="classify: score each image and its mirror image (the mean of their "
                        "logits), whatever the run trained with")

    p = command(sub, "predict", "apply a trained model to an image file",
                "  hourglass predict runs/a noisy.png -o clean.png\n"
                "  hourglass predict runs/classifier digit.png      # prints the class\n",
                "The image is converted to the model's size and channels (what was converted "
                "is reported);\nthe output image goes to -o (denoise, superres, prototype).")
    p.add_argument("run_dir", help="a finished run directory written by `hourglass train`")
    p.add_argument("image", help="a PNG, JPEG or any image file Pillow reads")
    p.add_argument("-o", "--out", help="output image (denoise, superres, prototype)")

    p = command(sub, "sample", "generate text with a trained language model",
                "  hourglass sample runs/lm --prompt 'ROMEO:' --tokens 300\n"
                "  hourglass sample runs/lm --temperature 0      # the most likely text\n",
                "Prints the prompt and its continuation; the model reads the last context "
                "characters\nat each step. The same --seed gives the same text.")
    p.add_argument("run_dir", help="a finished run of the lm family")
    p.add_argument("--prompt", help="text to continue (default: a newline)")
    p.add_argument("--tokens", type=int, default=500, help="characters to generate")
    p.add_argument("--temperature", type=float, default=0.8,
                   help="below 1: safer, above: wilder; 0: always the most likely character")
    p.add_argument("--seed", type=int, default=0, help="seeds the draws")

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
    p.add_argument("--ratios", type=lambda v: [float(x) for x in v.split(",")],
                   help="inner/skip ratios of the other shape (e.g. 0.5,0.8): solve the skip "
                        "width for each instead of the inner width")
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
    p.add_argument("--after-budget", type=lambda v: v.split(","), help=argparse.SUPPRESS)
    p.add_argument("--deadline", type=float, help=argparse.SUPPRESS)

    p = command(sub, "spaces", "list the built-in search spaces, or print one as TOML",
                "  hourglass spaces\n  hourglass spaces quick-denoise > my.toml\n")
    p.add_argument("name", nargs="?", help="a built-in space to print as TOML")

    p = command(sub, "report", "write the report of a search directory",
                "  hourglass report runs/s\n"
                "  hourglass report runs/plain --with runs/hash4 runs/altup2   # one plot\n",
                "Writes frontier.png, summary.md and report.html into the search directory "
                "and prints\nthe report's path.")
    p.add_argument("dir", help="a search directory (the --out of search or compare)")
    p.add_argument("--with", dest="others", nargs="+", metavar="DIR",
                   help="other searches of the same task and data (block variants, say): "
                        "their frontiers beside DIR's in DIR/overlay.png and overlay.md")

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
