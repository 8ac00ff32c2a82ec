"""Charts of the reports with matplotlib (Agg backend): SVG or PNG bytes, deterministic.

SVG output is byte-identical for identical data: ``svg.hashsalt`` is fixed and the
``Date`` metadata is dropped; text is rendered as paths, so nothing user-typed appears as
markup in the SVG.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from ..errors import UsageError

FORMATS = ("svg", "png")
BEHAVIORAL = "#b2182b"
NEUTRAL = "#4d4d4d"
BARS = "#9ecae1"


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _style() -> dict[str, Any]:
    return {"svg.hashsalt": "railtrack", "svg.fonttype": "path", "font.size": 9, "axes.spines.top": False,
            "figure.dpi": 100}


def _save(fig: Any, fmt: str) -> bytes:
    plt = _plt()
    buf = io.BytesIO()
    meta = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buf, format=fmt, metadata=meta, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def format_of(path: str | os.PathLike[str]) -> str:
    """``svg`` or ``png`` from a file name; :class:`UsageError` otherwise."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise UsageError(f"--plot {path}: the file name must end in .svg or .png")
    return suffix


def _month_ticks(ax: Any, months: list[str]) -> None:
    step = max(1, len(months) // 12)
    ax.set_xticks(range(0, len(months), step))
    ax.set_xticklabels([months[i] for i in range(0, len(months), step)], rotation=45, ha="right")


def adoption_chart(data: dict[str, Any], fmt: str = "svg") -> bytes:
    """Models created per month (bars) and the behavioral-use share, by count and by downloads (lines)."""
    plt = _plt()
    months = [m["month"] for m in data["by_month"]]
    with plt.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(9, 4.2))
        x = list(range(len(months)))
        ax.bar(x, [m["models"] for m in data["by_month"]], color=BARS, label="models created")
        ax.set_ylabel("models created per month")
        ax2 = ax.twinx()
        ax2.plot(x, [100 * m["share"] for m in data["by_month"]], color=BEHAVIORAL, lw=1.8,
                 label="behavioral-use share (models)")
        ax2.plot(x, [100 * m["cumulative_share"] for m in data["by_month"]], color=BEHAVIORAL, lw=1.2, ls="--",
                 label="behavioral-use share (cumulative)")
        ax2.plot(x, [100 * m["downloads_share"] for m in data["by_month"]], color=NEUTRAL, lw=1.2, ls=":",
                 label="behavioral-use share (downloads)")
        ax2.set_ylabel("share under a behavioral-use license (%)")
        ax2.set_ylim(0, 100)
        _month_ticks(ax, months)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize=8, frameon=False)
        ax.set_title(f"Behavioral-use license adoption: {data['total_models']:,} models, "
                     f"{100 * data['share']:.1f}% behavioral use")
        fig.text(0.01, -0.12, data.get("caveat", ""), fontsize=7, color=NEUTRAL)
        return _save(fig, fmt)


def licenses_chart(data: dict[str, Any], fmt: str = "svg") -> bytes:
    """Horizontal bars of the top licenses; behavioral-use licenses in red."""
    plt = _plt()
    top = list(reversed(data["top"]))
    with plt.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(8, 0.35 * len(top) + 1.2))
        ax.barh(range(len(top)), [t["models"] for t in top],
                color=[BEHAVIORAL if t["behavioral_use"] else BARS for t in top])
        ax.set_yticks(range(len(top)))
        ax.set_yticklabels([t["license"] for t in top])
        for i, t in enumerate(top):
            ax.text(t["models"], i, f" {100 * t['share']:.1f}%", va="center", fontsize=7)
        ax.set_xlabel("models")
        ax.set_title(f"Top licenses ({data['total_models']:,} models; red: behavioral use)")
        return _save(fig, fmt)


def clauses_chart(data: dict[str, Any], fmt: str = "svg") -> bytes:
    """Convergence: cumulative mean Jaccard and top-configuration share over time."""
    plt = _plt()
    with plt.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(9, 4))
        months = sorted({m["month"] for part in ("generated", "hub") for m in data[part]["by_month"]})
        index = {m: i for i, m in enumerate(months)}
        for part, color in (("generated", NEUTRAL), ("hub", BEHAVIORAL)):
            series = [m for m in data[part]["by_month"] if m["cumulative_mean_jaccard"] is not None]
            if not series:
                continue
            xs = [index[m["month"]] for m in series]
            ax.plot(xs, [m["cumulative_mean_jaccard"] for m in series], color=color, lw=1.8,
                    label=f"{part}: mean pairwise Jaccard")
            ax.plot(xs, [m["cumulative_top_configuration_share"] for m in series], color=color, lw=1.2, ls="--",
                    label=f"{part}: share of the most common configuration")
        ax.set_ylim(0, 1.05)
        if months:
            _month_ticks(ax, months)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="lower left", fontsize=8, frameon=False)
        else:
            ax.text(0.5, 0.5, "not enough licenses to compare yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_title("Clause configurations: convergence over time (cumulative)")
        return _save(fig, fmt)


CHARTS = {"adoption": adoption_chart, "licenses": licenses_chart, "clauses": clauses_chart}


def chart(report: str, data: dict[str, Any], fmt: str = "svg") -> bytes:
    """The chart of ``report`` (``adoption``, ``licenses`` or ``clauses``) as SVG/PNG bytes."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown chart format {fmt!r}; use svg or png")
    try:
        fn = CHARTS[report]
    except KeyError:
        raise UsageError(f"no chart for report {report!r}") from None
    return fn(data, fmt)
