"""The HTML report of `ccrisk monitor run`: every statistic against its threshold, and the
distributions behind them as plots (PNG, inline: the report is one file)."""

from __future__ import annotations

import base64
import html
import io

import numpy as np


def html_report(summary: dict, plots: dict[str, dict[str, np.ndarray]]) -> str:
    rows = "".join(_row(s) for s in summary["statistics"])
    figures = "".join(_figure(title, series) for title, series in plots.items())
    alerts = summary["alerts"]
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>ccrisk monitoring</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:1.5rem}td,th{padding:3px 10px;text-align:left}"
        ".crossed{background:#fdd}.unjudged{color:#666}img{max-width:560px;margin:0 1rem 1rem 0}</style>"
        f"</head><body><h1>ccrisk monitoring, {html.escape(summary['generated_at'])}</h1>"
        f"<p>Window: {summary['window_s'] / 3600:g} hours. "
        f"<strong>{alerts} threshold(s) crossed.</strong></p>"
        "<table><tr><th>model</th><th>statistic</th><th>value</th><th>threshold</th><th>rows</th>"
        f"<th>note</th></tr>{rows}</table><h2>Distributions</h2>{figures or '<p>no traffic to draw</p>'}"
        "</body></html>"
    )


def _row(s: dict) -> str:
    value = "-" if s["value"] is None else f"{s['value']:.3f}"
    limit = (
        "-" if s["threshold"] is None else f"{'≤' if s['direction'] == 'above' else '≥'} {s['threshold']:g}"
    )
    css = "crossed" if s["crossed"] else "" if s["judged"] else "unjudged"
    note = s["note"] + ("" if s["judged"] else " (too few rows to judge)")
    return (
        f"<tr class='{css}'><td>{html.escape(s['model'])}</td><td>{html.escape(s['name'])}</td>"
        f"<td>{value}</td>"
        f"<td>{limit}</td><td>{s['rows']}</td><td>{html.escape(note)}</td></tr>"
    )


def _figure(title: str, series: dict[str, np.ndarray]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    values = [v[np.isfinite(v)] for v in series.values()]
    edges = np.histogram_bin_edges(np.concatenate(values), bins=20) if any(len(v) for v in values) else 20
    for (label, _), v in zip(series.items(), values, strict=True):
        ax.hist(v, bins=edges, density=True, alpha=0.5, label=f"{label} ({len(v)})")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f"<img alt='{html.escape(title)}' src='data:image/png;base64,{data}'>"
