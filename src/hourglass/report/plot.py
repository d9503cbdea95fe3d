"""frontier.png: quality against trainable parameters, one frontier per shape, +-1 seed std."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display: render to files only
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"hourglass": "#d9480f", "conventional": "#1c7ed6"}


def frontier_png(summary: dict) -> bytes:
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    metric = summary["metric"].replace("test_", "test ").replace("psnr", "PSNR (dB)")
    for shape, front in summary["frontiers"].items():
        color = COLORS.get(shape, "gray")
        others = [c for c in summary["configurations"] if c["shape"] == shape]
        ax.scatter([c["params"] for c in others], [c["mean"] for c in others], s=10,
                   color=color, alpha=0.25, label=f"{shape}: every architecture")
        xs = [c["params"] for c in front]
        ys = [c["mean"] for c in front]
        lo = [c["mean"] - c["std"] for c in front]
        hi = [c["mean"] + c["std"] for c in front]
        ax.fill_between(xs, lo, hi, step="post", color=color, alpha=0.18)
        ax.step(xs, ys, where="post", color=color, lw=2, label=f"{shape} frontier")
        ax.scatter(xs, ys, color=color, s=28, zorder=3)
        for i, c in enumerate(front):  # alternate below / above: neighbours do not overlap
            ax.annotate(f"{c['skip_dim']}/{c['inner_dim']}/{c['depth']}",
                        (c["params"], c["mean"]), textcoords="offset points",
                        xytext=(4, -10 if i % 2 == 0 else 5), fontsize=7, color=color)
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters")
    ax.set_ylabel(metric)
    ax.set_title(f"Pareto frontiers ({summary['space']['task']} on "
                 f"{summary['space']['dataset']}, labels: skip/inner/depth)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
