"""The transparency chart is looked at: rendered to PNG (cairosvg), its axis labels
measured with cairo's own text metrics in the chart's font, and none may overlap or
leave the picture, for periods from half a year to a century; the bars widen from
months to quarters to years, and the count axis has whole-number ticks past the peak."""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import cairocffi
import cairosvg
import pytest

from services.audit.chart import (
    FONT,
    HEIGHT,
    LABEL_FONT_SIZE,
    MOST_X_LABELS,
    WIDTH,
    count_ticks,
    requests_chart_svg,
)
from services.audit.domain.transparency import (
    MOST_BARS,
    Buckets,
    MonthGroup,
    bucket_size,
    requests_by_bucket,
    requests_by_month,
)

SVG = "{http://www.w3.org/2000/svg}"
FAMILIES = ("subpoena", "court_order", "warrant", "emergency", "administrative")


@dataclass(frozen=True)
class Box:
    """A label's extent along and across its own (possibly rotated) baseline."""

    text: str
    along: tuple[float, float]
    across: tuple[float, float]
    corners: tuple[tuple[float, float], ...]

    def overlaps(self, other: Box) -> bool:
        return (
            self.along[0] < other.along[1]
            and other.along[0] < self.along[1]
            and self.across[0] < other.across[1]
            and other.across[0] < self.across[1]
        )


def groups(start: datetime, end: datetime) -> list[MonthGroup]:
    """Some requests in every month, of several families, deterministic."""
    months = list(requests_by_month([], start, end))
    return [
        MonthGroup(
            month=month,
            requests=1 + (index * 7 + offset * 3) % 5,
            family=family,
            instrument="subpoena",
            agency_type="court",
        )
        for index, month in enumerate(months)
        for offset, family in enumerate(FAMILIES[: 2 + index % 4])
    ]


def chart(start: datetime, end: datetime) -> tuple[str, dict[str, dict[str, int]]]:
    series = requests_by_month(groups(start, end), start, end)
    title = f"Requests by authority family, {start:%Y-%m-%d} to {end:%Y-%m-%d}"
    return requests_chart_svg(series, title), series


def _translation(element: ElementTree.Element) -> tuple[float, float]:
    found = re.search(r"translate\(([-\d.]+),\s*([-\d.]+)\)", element.get("transform", ""))
    return (float(found[1]), float(found[2])) if found else (0.0, 0.0)


def label_boxes(svg: str, axis: str) -> list[Box]:
    """Every label drawn on the ``x`` or ``y`` axis, measured as cairo draws it."""
    root = ElementTree.fromstring(svg)
    [plot] = [g for g in root.iter(f"{SVG}g") if g.get("class") == "plot"]
    dx, dy = _translation(plot)
    [group] = [g for g in plot.iter(f"{SVG}g") if (g.get("class") or "").startswith(f"axis {axis}")]
    surface = cairocffi.ImageSurface(cairocffi.FORMAT_ARGB32, 1, 1)
    context = cairocffi.Context(surface)
    context.select_font_face(FONT.split(",")[0])
    context.set_font_size(LABEL_FONT_SIZE)
    ascent, descent = context.font_extents()[:2]
    boxes = []
    for text in group.iter(f"{SVG}text"):
        label = text.text or ""
        width = context.text_extents(label)[4]  # the advance: how far cairo draws
        x, y = float(text.get("x", 0)) + dx, float(text.get("y", 0)) + dy
        rotation = re.search(r"rotate\(([-\d.]+)", text.get("transform", ""))
        angle = math.radians(float(rotation[1])) if rotation else 0.0
        if rotation:  # pygal's CSS: a rotated x label starts at its anchor
            start = 0.0
        elif axis == "x":  # centred under its bar
            start = -width / 2
        else:  # y labels end at the axis
            start = -width
        cos, sin = math.cos(angle), math.sin(angle)
        along0 = x * cos + y * sin
        across0 = -x * sin + y * cos
        corners = tuple(
            (x + u * cos - v * sin, y + u * sin + v * cos)
            for u in (start, start + width)
            for v in (-ascent, descent)
        )
        boxes.append(
            Box(
                label,
                (along0 + start, along0 + start + width),
                (across0 - ascent, across0 + descent),
                corners,
            )
        )
    return boxes


PERIODS = {
    "half a year": (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)),
    "a year": (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    "two years": (datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    "five years": (datetime(2020, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)),
    "2000 to 2027": (datetime(2000, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    "a century": (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)),
}


@pytest.mark.parametrize("period", list(PERIODS))
def test_no_axis_label_overlaps_another_or_leaves_the_picture(period: str, tmp_path: Path) -> None:
    svg, series = chart(*PERIODS[period])
    png = tmp_path / "chart.png"
    cairosvg.svg2png(bytestring=svg.encode(), write_to=str(png))
    image = cairocffi.ImageSurface.create_from_png(str(png))
    assert (image.get_width(), image.get_height()) == (WIDTH, HEIGHT)

    for axis in ("x", "y"):
        boxes = label_boxes(svg, axis)
        assert len(boxes) >= 2, axis
        for i, box in enumerate(boxes):
            for other in boxes[i + 1 :]:
                assert not box.overlaps(other), (period, box.text, other.text)
            for cx, cy in box.corners:
                assert 0 <= cx <= WIDTH, (period, box.text)
                assert 0 <= cy <= HEIGHT, (period, box.text)

    x_labels = [box.text for box in label_boxes(svg, "x")]
    _size, bars = requests_by_bucket(series)
    assert len(x_labels) <= MOST_X_LABELS
    assert x_labels[0] == next(iter(bars))
    assert set(x_labels) <= set(bars)


@pytest.mark.parametrize("period", ["a year", "2000 to 2027"])
def test_the_count_axis_has_whole_ticks_and_gridlines_past_the_tallest_bar(period: str) -> None:
    svg, series = chart(*PERIODS[period])
    _size, bars = requests_by_bucket(series)
    peak = max(sum(counts.values()) for counts in bars.values())
    ticks = [int(box.text) for box in label_boxes(svg, "y")]  # int() refuses "0.5"
    assert ticks[0] == 0
    assert ticks[-1] >= peak
    assert 3 <= len(ticks) <= 7
    assert len({b - a for a, b in itertools.pairwise(ticks)}) == 1
    root = ElementTree.fromstring(svg)
    gridlines = [p for p in root.iter(f"{SVG}path") if "guide line" in (p.get("class") or "")]
    assert len(gridlines) >= len(ticks) - 1
    assert "<script" not in svg
    assert "href=" not in svg  # self-contained: nothing fetched when it is opened


def test_bars_widen_with_the_period_and_keep_every_request() -> None:
    assert bucket_size(6) is Buckets.MONTH
    assert bucket_size(MOST_BARS) is Buckets.MONTH
    assert bucket_size(MOST_BARS + 1) is Buckets.QUARTER
    assert bucket_size(3 * MOST_BARS) is Buckets.QUARTER
    assert bucket_size(3 * MOST_BARS + 1) is Buckets.YEAR
    for name, (start, end) in PERIODS.items():
        series = requests_by_month(groups(start, end), start, end)
        size, bars = requests_by_bucket(series)
        assert len(bars) <= max(MOST_BARS, math.ceil(len(series) / 12)), name
        total = sum(sum(counts.values()) for counts in series.values())
        assert sum(sum(counts.values()) for counts in bars.values()) == total, name
    size, bars = requests_by_bucket(requests_by_month([], *PERIODS["2000 to 2027"]))
    assert size is Buckets.YEAR
    assert list(bars) == [str(year) for year in range(2000, 2027)]
    size, bars = requests_by_bucket(requests_by_month([], *PERIODS["five years"]))
    assert size is Buckets.QUARTER
    assert list(bars)[:5] == ["2020 Q1", "2020 Q2", "2020 Q3", "2020 Q4", "2021 Q1"]


@pytest.mark.parametrize(
    ("peak", "ticks"),
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (5, [0, 1, 2, 3, 4, 5]),
        (7, [0, 2, 4, 6, 8]),
        (97, [0, 20, 40, 60, 80, 100]),
        (1234, [0, 500, 1000, 1500]),
    ],
)
def test_count_ticks_are_round_whole_numbers(peak: int, ticks: list[int]) -> None:
    assert count_ticks(peak) == ticks


def test_an_empty_period_still_draws_its_axes() -> None:
    start, end = PERIODS["a year"]
    svg = requests_chart_svg(requests_by_month([], start, end), "Nothing")
    assert [box.text for box in label_boxes(svg, "y")] == ["0", "1"]
    assert len(label_boxes(svg, "x")) == 12
