"""report.html: one self-contained page (images inline) for a search directory."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import torch

from hourglass.core.errors import UserError
from hourglass.core.files import write_bytes_atomic, write_text_atomic
from hourglass.report.latency import frontier_latency
from hourglass.report.markdown import render_markdown
from hourglass.report.plot import frontier_png, scaling_png
from hourglass.report.scaling import scaling_fits
from hourglass.report.tables import Table, fmt, intro, label, quality, tables

SCALING_PLOT = "scaling.png"  # written with a scaling fit (3 or more budgets per shape)

FRONTIER_FILE = "frontier.json"
PROVENANCE_FILE = "provenance.json"  # search/runner.py writes it

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: right; }
th { background: #f1f3f5; } td.l { text-align: left; }
.hourglass { color: #d9480f; } .conventional { color: #1c7ed6; }
img { max-width: 100%; } .samples { display: flex; gap: 2rem; flex-wrap: wrap; }
.note { color: #555; font-size: .9rem; }
"""

# Counts the images the browser actually decoded, so a headless test can read it off the DOM.
CHECK = """
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.imagesOk = ok + '/' + imgs.length;
});
"""


def _png_tag(data: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,' \
           f'{base64.b64encode(data).decode()}">'


def _table(t: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in t.header)
    body = []
    for i, r in enumerate(t.rows):
        cls = f' class="{t.classes[i]}"' if t.classes else ""
        body.append(f"<tr{cls}>" + "".join(
            f'<td class="l">{html.escape(fmt(v))}</td>' if j == 0
            else f"<td>{html.escape(fmt(v))}</td>" for j, v in enumerate(r)) + "</tr>")
    h2 = f'<h2 class="{t.shape}">' if t.shape else "<h2>"
    note = f'<p class="note">{html.escape(t.note)}</p>' if t.note else ""
    return f"{h2}{html.escape(t.title)}</h2><table><tr>{head}</tr>{''.join(body)}</table>{note}"


def _best_samples(summary: dict, out: Path) -> str:
    parts = []
    for shape, front in summary["frontiers"].items():
        if not front:
            continue
        sign = 1 if summary.get("higher_is_better", True) else -1
        best = max(front, key=lambda c: sign * c["mean"])
        key = best.get("unit") or (f"{shape}-z{best['skip_dim']}-h{best['inner_dim']}"
                                   f"-L{best['depth']}-lr{best['lr']:g}")
        runs = sorted((out / "runs").glob(f"{key}-s*-e{summary['epochs']}/samples.png"))
        if runs:
            parts.append(f'<div><h3 class="{shape}">{shape}: {label(best)}, '
                         f'{quality(summary, best["mean"])}</h3>'
                         f'{_png_tag(runs[0].read_bytes(), shape + " samples")}'
                         '<p class="note">rows: input, output, target</p></div>')
    return f'<div class="samples">{"".join(parts)}</div>' if parts else \
        '<p class="note">no samples (classification, or no finished run)</p>'


def render(summary: dict, out: Path, plot: bytes, scaling: bytes | None = None) -> str:
    space = summary["space"]
    sections = [f"<h1>Hourglass vs conventional: {html.escape(space['task'])} on "
                f"{html.escape(space['dataset'])}</h1>",
                f'<p class="note">{html.escape(intro(summary))}</p>',
                _png_tag(plot, "frontier plot")]
    if scaling:
        sections.append(_png_tag(scaling, "scaling fits"))
    sections += [_table(t) for t in tables(summary)]
    sections.append("<h2>Samples from the best model of each shape</h2>" +
                    _best_samples(summary, out))
    return ("<!doctype html><html><head><meta charset='utf-8'><title>hourglass-mlp report"
            f"</title><style>{STYLE}</style><script>{CHECK}</script></head><body>"
            + "\n".join(sections) + "</body></html>")


def write_report(out: str | Path) -> Path:
    """Write DIR/report.html, DIR/summary.md and DIR/frontier.png from DIR/frontier.json."""
    out = Path(out)
    try:
        summary = json.loads((out / FRONTIER_FILE).read_text())
    except FileNotFoundError:
        raise UserError(f"{out} is not a search directory (no {FRONTIER_FILE}); run "
                        "`hourglass search ... --out DIR` first") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{out / FRONTIER_FILE}: damaged ({e})") from e
    if not summary.get("frontiers"):
        raise UserError(f"{out}: no finished trial at full epochs yet; nothing to report")
    try:  # a search written before provenance was recorded has none
        summary["provenance"] = json.loads((out / PROVENANCE_FILE).read_text())
    except (OSError, ValueError):
        summary["provenance"] = None
    summary["latency"] = frontier_latency(summary, out)
    summary["threads"] = torch.get_num_threads()
    plot = frontier_png(summary)
    write_bytes_atomic(out / "frontier.png", plot)
    summary["scaling_fit"] = scaling_fits(summary)  # None: under 3 budgets per shape
    scaling = None
    if summary["scaling_fit"]:
        scaling = scaling_png(summary["scaling_fit"], summary)
        write_bytes_atomic(out / SCALING_PLOT, scaling)
    write_text_atomic(out / "report.html", render(summary, out, plot, scaling))
    write_text_atomic(out / "summary.md", render_markdown(summary))
    return out / "report.html"
