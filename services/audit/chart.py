"""The transparency chart: requests by authority family, stacked, per month, quarter or
year (the bars widen with the period, :func:`requests_by_bucket`), drawn by pygal as SVG
with a real count axis, gridlines, axis titles and a legend.

The SVG is self-contained: no script, no external stylesheet or font, so it is safe to
serve and renders the same in a browser, a document or ``cairosvg``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import pygal
from pygal.etree import etree
from pygal.style import Style

from services.audit.domain.transparency import Buckets, requests_by_bucket

WIDTH, HEIGHT = 900, 460
#: The x-axis shows at most this many labels; the others stay as unlabelled ticks.
MOST_X_LABELS = 12
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
FONT = "DejaVu Sans, Verdana, sans-serif"
LABEL_FONT_SIZE = 12
STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#333333",
    foreground_strong="#111111",
    foreground_subtle="#d9d9d9",
    colors=PALETTE,
    font_family=FONT,
    label_font_family=FONT,
    major_label_font_family=FONT,
    title_font_family=FONT,
    legend_font_family=FONT,
    label_font_size=LABEL_FONT_SIZE,
    major_label_font_size=LABEL_FONT_SIZE,
    title_font_size=15,
    legend_font_size=12,
    tooltip_font_size=12,
    guide_stroke_color="#d0d0d0",
    major_guide_stroke_color="#d0d0d0",
    guide_stroke_dasharray="none",
    major_guide_stroke_dasharray="none",
)
NOTE = "National-security process is reported only in bands and is not shown."
_X_TITLES = {
    Buckets.MONTH: "Month received",
    Buckets.QUARTER: "Quarter received",
    Buckets.YEAR: "Year received",
}


def count_ticks(peak: int, most: int = 6) -> list[int]:
    """Whole-number ticks from 0 past ``peak`` in steps of 1, 2 or 5 times a power of
    ten, at most ``most`` + 1 of them: a count axis never shows 0.5 requests."""
    peak = max(peak, 1)
    step = 1
    for power in range(0, 19):
        for factor in (1, 2, 5):
            step = factor * 10**power
            if math.ceil(peak / step) <= most:
                top = math.ceil(peak / step) * step
                return list(range(0, top + 1, step))
    return [0, peak]  # pragma: no cover - beyond 5 * 10**18 requests


def requests_chart_svg(series: dict[str, dict[str, int]], title: str) -> str:
    """``series`` is ``requests_by_month``'s ``{month: {family: count}}`` in order."""
    size, bars = requests_by_bucket(series)
    families = sorted({family for counts in bars.values() for family in counts})
    labels = list(bars)
    peak = max((sum(counts.values()) for counts in bars.values()), default=0)
    ticks = count_ticks(peak)
    every = max(1, math.ceil(len(labels) / MOST_X_LABELS))
    chart = pygal.StackedBar(
        width=WIDTH,
        height=HEIGHT,
        style=STYLE,
        title=f"{title}\n{NOTE}",
        x_title=_X_TITLES[size],
        y_title="Requests",
        x_labels=labels,
        x_labels_major=labels[::every],
        show_minor_x_labels=False,
        x_label_rotation=0 if size is Buckets.YEAR or every > 1 else 30,
        y_labels=ticks,
        range=(0, ticks[-1]),
        show_y_guides=True,
        show_x_guides=False,
        legend_at_bottom=True,
        legend_at_bottom_columns=min(max(len(families), 1), 5),
        truncate_legend=-1,
        truncate_label=-1,
        print_values=False,
        margin=16,
        explicit_size=True,
        spacing=12,
        js=[],  # no script: the chart is served and embedded as is
        no_data_text="No requests in this period",
    )
    for family in families:
        chart.add(family, [bars[label].get(family, 0) for label in labels])
    if not families:  # an empty period still shows its axes
        chart.add("no requests", [0 for _label in labels])
    # pygal's element tree (lxml's or the standard library's, whichever it uses), less
    # the inline script pygal always adds (its tooltips' configuration).
    tree: Any = chart.render_tree()
    for defs in tree.iter("defs"):
        for script in defs.findall("script"):
            defs.remove(script)
    serialise = cast(Callable[..., str], etree.tostring)  # untyped in pygal's stubs
    return serialise(tree, encoding="unicode") + "\n"
