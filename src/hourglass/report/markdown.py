"""summary.md: the report as Markdown, to commit next to frontier.png (docs/results/)."""

from __future__ import annotations

from hourglass.report.tables import fmt, intro, tables


def _cell(v) -> str:
    return fmt(v).replace("|", "\\|")


def render_markdown(summary: dict) -> str:
    space = summary["space"]
    title = " vs ".join(summary["frontiers"]) if len(summary["frontiers"]) > 1 \
        else f"{next(iter(summary['frontiers']))} only"
    lines = [f"# {space.get('name', 'search')}: {title}, {space['task']} on "
             f"{space['dataset']}", "", intro(summary), "", "![frontier](frontier.png)", ""]
    if summary.get("scaling_fit"):
        lines += ["![scaling fits](scaling.png)", ""]
    for t in tables(summary):
        lines += [f"## {t.title}", "", "| " + " | ".join(t.header) + " |",
                  "|" + "---|" * len(t.header)]
        lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in t.rows]
        lines += ["", t.note, ""] if t.note else [""]
    return "\n".join(lines)
