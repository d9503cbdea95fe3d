"""frontier.png: quality against trainable non-embedding parameters (and FLOPs), one frontier
per shape, +-1 seed std."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display: render to files only
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from hourglass.report.tables import label, label_heading, metric_label  # noqa: E402
from hourglass.tasks.base import task_spec

COLORS = {"hourglass": "#d9480f", "conventional": "#1c7ed6"}
# further series (an overlay of block variants), in order
# (none near the two shapes' own orange and blue)
PALETTE = ["#2f9e44", "#7048e8", "#212529", "#0c8599", "#c2255c", "#e6a700", "#868e96"]
# where a frontier label may sit, in points from its marker (right of it, then left), in the
# order tried
LABEL_OFFSETS = [(dx, dy) for dx in (4, -4) for dy in (5, -10, 14, -19, 23, -28)]


def frontier_png(summary: dict) -> bytes:
    """The frontiers against trainable non-embedding parameters and, where the trials
    recorded FLOPs, beside them against forward FLOPs per sample."""
    # a frontier.json written before it was stored: every family but the MLP has embeddings
    embedded = summary.get("embeddings", summary["space"].get("family", "mlp") != "mlp")
    axes = [("params", f"trainable{' non-embedding' if embedded else ''} parameters",
             summary["frontiers"])]
    if summary.get("frontiers_by_flops"):
        unit = "token" if task_spec(summary["space"]["task"]).per_token else "sample"
        axes.append(("flops", f"forward FLOPs per {unit}", summary["frontiers_by_flops"]))
    overlay = len(summary["frontiers"]) > 2  # block variants beside the two shapes
    fig, row = plt.subplots(1, len(axes), figsize=(8 * len(axes) + 3 * overlay, 5), dpi=110,
                            squeeze=False)
    title = (f"Pareto frontiers ({summary['space']['task']} on {summary['space']['dataset']}, "
             f"labels: {label_heading(summary)})")
    labels = [_draw(ax, summary, fronts, key, name) for ax, (key, name, fronts)
              in zip(row[0], axes, strict=True)]
    if overlay:  # its long legend would hide frontiers: once, right of the last axis
        row[0][-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    else:  # a legend in each axis' empty corner
        for ax in row[0]:
            ax.legend(loc="lower right" if summary.get("higher_is_better", True)
                      else "upper right", fontsize=8)
    row[0][0].set_title(title, loc="left")
    fig.tight_layout()  # before the labels: placing them needs the final axes
    for ax, mine in zip(row[0], labels, strict=True):
        _place_labels(fig, ax, mine)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def series_colors(names: list[str]) -> dict[str, str]:
    """Each series' colour: the two shapes' own, then the palette in order (repeating past
    its end)."""
    extra = iter(PALETTE * (1 + len(names) // len(PALETTE)))
    return {n: COLORS.get(n) or next(extra) for n in names}


def _draw(ax, summary: dict, fronts: dict, key: str, name: str) -> list:
    """One axis: every architecture, each shape's frontier with its +- one std band; returns
    the frontier points' labels, to place once the figure is laid out."""
    labels = []
    metric = metric_label(summary)
    colors = series_colors(list(fronts))
    for shape, front in fronts.items():
        color = colors[shape]
        others = [c for c in summary["configurations"] if c["shape"] == shape]
        ax.scatter([c[key] for c in others], [c["mean"] for c in others], s=10,
                   color=color, alpha=0.25, label=f"{shape}: every architecture")
        xs = [c[key] for c in front]
        ys = [c["mean"] for c in front]
        lo = [c["mean"] - c["std"] for c in front]
        hi = [c["mean"] + c["std"] for c in front]
        ax.fill_between(xs, lo, hi, step="post", color=color, alpha=0.18)
        ax.step(xs, ys, where="post", color=color, lw=2, label=f"{shape} frontier")
        ax.scatter(xs, ys, color=color, s=28, zorder=3)
        labels += [(label(c), c[key], c["mean"], color) for c in front]
    ax.set_xscale("log")
    ax.set_xlabel(name)
    ax.set_ylabel(metric)
    ax.grid(True, which="both", alpha=0.3)
    return labels


def _place_labels(fig, ax, labels: list[tuple[str, float, float, str]]) -> None:
    """Each label at the first offset where it stays inside the axes and covers no marker and
    no label placed before it: the two shapes' frontiers often cross, and neighbouring points
    of both crowd one spot. Where every offset is taken the first one is used."""
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    r = 3 * fig.dpi / 72  # a marker's radius, in pixels
    taken = [legend.get_window_extent(renderer)] if (legend := ax.get_legend()) else []
    taken += [Bbox.from_extents(px - r, py - r, px + r, py + r)
              for px, py in ax.transData.transform([(x, y) for _, x, y, _ in labels])]
    for text, x, y, color in sorted(labels, key=lambda t: t[1]):
        for offset in LABEL_OFFSETS:
            box = (ann := _annotate(ax, text, (x, y), color, offset)).get_window_extent(renderer)
            if (frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0
                    and box.y1 <= frame.y1 and not any(box.overlaps(b) for b in taken)):
                break
            ann.remove()
        else:
            box = _annotate(ax, text, (x, y), color, LABEL_OFFSETS[0]).get_window_extent(renderer)
        taken.append(box)


def _annotate(ax, text: str, xy: tuple[float, float], color: str, offset: tuple[int, int]):
    return ax.annotate(text, xy, textcoords="offset points", xytext=offset, fontsize=7,
                       color=color, ha="left" if offset[0] > 0 else "right")


def scaling_png(fitted: dict, summary: dict) -> bytes:
    """scaling.png: each shape's frontier points (mean loss) and its fitted law, one axis per
    size measure, N on a log scale up to twice the largest budget."""
    import numpy as np

    axes = list(fitted["axes"].items())
    fig, row = plt.subplots(1, len(axes), figsize=(7 * len(axes), 4.5), dpi=110, squeeze=False)
    for ax, (axis, result) in zip(row[0], axes, strict=True):
        sizes = [n for f in result["fits"] for n, _ in f.points]
        grid = np.geomspace(min(sizes), 2 * max(sizes), 200)
        for f in result["fits"]:
            color = COLORS.get(f.shape, PALETTE[0])
            ax.scatter(*zip(*f.points, strict=True), color=color, s=28, zorder=3)
            ax.plot(grid, f.law(grid), color=color, lw=2,
                    label=f"{f.shape}: {f.law.e:.3g} + {f.law.a:.3g} N^-{f.law.alpha:.3f}")
        ax.set_xscale("log")
        ax.set_xlabel("trainable non-embedding parameters" if axis == "params"
                      else "forward FLOPs per sample")
        ax.set_ylabel(fitted["loss"])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    row[0][0].set_title(f"Scaling fits ({summary['space']['task']} on "
                        f"{summary['space']['dataset']})", loc="left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
