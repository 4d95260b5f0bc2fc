"""``csmpt report RUN_DIR``: a run's convergence curves as PNGs and a one-page summary.

Figures like CSMPT7b's: train loss, eval loss per corpus, bits per byte per corpus (every
validated corpus on one plot, e.g. Czech and English, so forgetting shows; reference HF models
dashed), few-shot accuracy, each with vertical
markers at corpus swaps (dashed) and loss spikes (red, dotted). The page (``report.md`` and
``report.html``) embeds the figures and lists the markers. Files go to ``RUN_DIR/report/``,
each written to a temporary name and renamed.
"""

from __future__ import annotations

import html
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csmpt.atomic import write_bytes, write_text
from csmpt.report.data import Curve, ReportData, build_report_data

__all__ = ["Report", "plot_curves", "save_figure", "write_report"]

log = logging.getLogger(__name__)


@dataclass
class Report:
    """The report's files and the data they show."""

    data: ReportData
    folder: Path
    figures: dict[str, Path] = field(default_factory=dict)
    markdown: Path | None = None
    html: Path | None = None


def plot_curves(
    curves: list[Curve],
    data: ReportData,
    path: Path,
    title: str,
    ylabel: str,
    references: list[tuple[str, float]] | None = None,
) -> None:
    """Draw ``curves`` with the run's swap and spike markers into a PNG.

    ``references`` (label, value) are drawn as dashed horizontal lines (models without steps).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for c in curves:
        style = "-" if len(c.points) > 20 else "-o"
        ax.plot(c.steps, [v for _, v in c.points], style, label=c.label, linewidth=1.2)
    for label, value in references or []:
        ax.axhline(value, linestyle="--", linewidth=1, alpha=0.7, label=label)
    for i, m in enumerate(data.markers):
        if m.kind == "swap":
            ax.axvline(m.step, color="gray", linestyle="--", linewidth=1, label=m.text)
        elif m.kind == "stage":
            ax.axvline(m.step, color="green", linestyle="-.", linewidth=1, label=m.text)
        else:
            first = i == next(j for j, n in enumerate(data.markers) if n.kind == "spike")
            ax.axvline(
                m.step, color="red", linestyle=":", linewidth=1, label=m.text if first else None
            )
    save_figure(fig, ax, path, "step", ylabel, title)


def save_figure(fig: Any, ax: Any, path: Path, xlabel: str, ylabel: str, title: str) -> None:
    """Label, grid and legend the axes, then write the figure as a PNG (atomically) and close it."""
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    write_bytes(path, buf.getvalue())


def _markdown(r: Report) -> str:
    d = r.data
    last = d.train_loss.points[-1]
    lines = [
        f"# Run report: {d.run_dir.name}",
        "",
        f"- steps: {d.steps}; train loss {d.train_loss.points[0][1]:.3f} (step "
        f"{d.train_loss.points[0][0]}) -> {last[1]:.3f} (step {last[0]})",
    ]
    for c in d.eval_loss:
        lines.append(f"- eval loss {c.label}: {c.points[-1][1]:.3f} (step {c.points[-1][0]})")
    for c in d.bpb:
        lines.append(f"- bits per byte {c.label}: {c.points[-1][1]:.4f} (step {c.points[-1][0]})")
    for label, value in d.bpb_references:
        lines.append(f"- bits per byte {label}: {value:.4f} (reference model)")
    for c in d.accuracy:
        lines.append(f"- accuracy {c.label}: {c.points[-1][1]:.4f} (step {c.points[-1][0]})")
    lines.append("")
    if d.markers:
        lines += ["| step | event |", "|---:|---|"]
        lines += [f"| {m.step} | {m.text} |" for m in d.markers]
    else:
        lines.append("No corpus swaps or loss spikes recorded (events.jsonl).")
    lines.append("")
    for name, p in r.figures.items():
        lines += [f"## {name.replace('_', ' ')}", "", f"![{name}]({p.name})", ""]
    return "\n".join(lines)


def _html(md: str, title: str) -> str:
    """A small self-contained HTML rendering of the Markdown page (headings, lists, tables)."""
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"]
    out.append("<style>body{font-family:sans-serif;max-width:900px;margin:2em auto}")
    out.append("td,th{border:1px solid #ccc;padding:2px 8px}table{border-collapse:collapse}")
    out.append("</style></head><body>")
    in_list = in_table = False
    for line in md.splitlines():
        if in_list and not line.startswith("- "):
            out.append("</ul>")
            in_list = False
        if in_table and not line.startswith("|"):
            out.append("</table>")
            in_table = False
        if line.startswith("# "):
            out.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            out.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("- "):
            out.append("<ul>" if not in_list else "")
            out.append(f"<li>{html.escape(line[2:])}</li>")
            in_list = True
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("-:"):
                continue
            tag = "th" if not in_table else "td"
            out.append("<table>" if not in_table else "")
            out.append(
                "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"
            )
            in_table = True
        elif line.startswith("!["):
            src = line[line.index("(") + 1 : -1]
            out.append(f"<p><img src='{html.escape(src)}' width='800'></p>")
        elif line:
            out.append(f"<p>{html.escape(line)}</p>")
    out.append("</ul>" if in_list else "")
    out.append("</table>" if in_table else "")
    out.append("</body></html>")
    return "\n".join(o for o in out if o) + "\n"


def write_report(run_dir: str | Path, out_dir: str | Path | None = None) -> Report:
    """Build the report of a run folder: PNG figures + ``report.md`` + ``report.html``."""
    data = build_report_data(run_dir)
    folder = Path(out_dir) if out_dir else data.run_dir / "report"
    r = Report(data=data, folder=folder)
    figs = [("train_loss", [data.train_loss], "training loss", "loss")]
    if data.eval_loss:
        figs.append(("eval_loss", data.eval_loss, "eval loss per corpus", "loss"))
    if data.bpb:
        figs.append(("bits_per_byte", data.bpb, "bits per byte per corpus", "bits per byte"))
    if data.accuracy:
        figs.append(("accuracy", data.accuracy, "few-shot accuracy", "accuracy"))
    for name, curves, title, ylabel in figs:
        path = folder / f"{name}.png"
        refs = data.bpb_references if name == "bits_per_byte" else None
        plot_curves(curves, data, path, f"{data.run_dir.name}: {title}", ylabel, refs)
        r.figures[name] = path
    md = _markdown(r)
    r.markdown, r.html = folder / "report.md", folder / "report.html"
    write_text(r.markdown, md)
    write_text(r.html, _html(md, f"Run report: {data.run_dir.name}"))
    return r
