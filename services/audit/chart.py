"""A stacked bar chart of requests per month by authority family, as plain SVG."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT = 720, 360
LEFT, RIGHT, TOP, BOTTOM = 48, 170, 40, 48
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


def requests_chart_svg(series: dict[str, dict[str, int]], title: str) -> str:
    """``series`` is ``{month: {family: count}}`` in month order."""
    families = sorted({family for counts in series.values() for family in counts})
    colours = {family: PALETTE[i % len(PALETTE)] for i, family in enumerate(families)}
    peak = max((sum(counts.values()) for counts in series.values()), default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(series), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f'<text x="{LEFT}" y="22" font-size="14">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" '
        'stroke="#333"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{peak}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end">0</text>',
    ]
    for i, (month, counts) in enumerate(series.items()):
        x = LEFT + i * slot + slot * 0.15
        y: float = TOP + plot_h
        for family in families:
            height = plot_h * counts.get(family, 0) / peak
            if height:
                y -= height
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
                    f'height="{height:.1f}" fill="{colours[family]}">'
                    f"<title>{escape(month)} {escape(family)}: {counts[family]}</title></rect>"
                )
        parts.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{TOP + plot_h + 16}" '
            f'text-anchor="middle">{escape(month)}</text>'
        )
    for i, family in enumerate(families):
        y = TOP + i * 18
        parts.append(
            f'<rect x="{WIDTH - RIGHT + 16}" y="{y}" width="12" height="12" '
            f'fill="{colours[family]}"/>'
            f'<text x="{WIDTH - RIGHT + 34}" y="{y + 10}">{escape(family)}</text>'
        )
    parts.append(
        f'<text x="{LEFT}" y="{HEIGHT - 10}" fill="#555">National-security process is '
        "reported only in bands and is not shown.</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
