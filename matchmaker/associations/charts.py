"""Server-rendered SVG charts any domain can use: horizontal bar charts and dot maps.

Pure functions: data in, SVG text out (presentation attributes only, no style or script, so
the strict CSP allows it inline and the file also stands alone). Every category is one element
with class ``mark`` and a ``data-key``; a ``<title>`` on each gives the exact value on hover
and to screen readers. The same `Chart` also gives the table view (``rows``) and the CSV.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
BAR_FILL = "#0b5cad"
DOT_FILL = "#0b5cad"
DOT_STROKE = "#ffffff"
BACKDROP_FILL = "#d5dae1"
TEXT_FILL = "#1b1f24"
MUTED_FILL = "#4a5563"
# Italy with its islands, in degrees: the map's extent when no backdrop narrows it.
ITALY = (35.4, 47.2, 6.5, 18.6)


@dataclass(frozen=True)
class Category:
    """One bar: a stable key, the label people read, the value, and an optional link."""

    key: str
    label: str
    value: float
    href: str | None = None


@dataclass(frozen=True)
class Point:
    """One dot on a map: a place (key, label, coordinates in degrees) and its value."""

    key: str
    label: str
    lat: float
    lng: float
    value: float


@dataclass
class Chart:
    """A chart's data: what the SVG, the table view and the CSV download are all made of."""

    key: str
    title: str
    kind: str  # "bar" or "map"
    label_header: str
    value_header: str
    rows: list[Category | Point] = field(default_factory=list)
    description: str = ""
    # For maps: (lat, lng) of places drawn faintly underneath (the outline of the area).
    backdrop: Sequence[tuple[float, float]] = ()

    @property
    def total(self) -> float:
        """Return the sum of the values."""
        return sum(r.value for r in self.rows)


def _fmt(value: float) -> str:
    return f"{value:,.0f}".replace(",", "\u202f") if value == int(value) else f"{value:.2f}"


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _svg_open(width: int, height: int, title: str, desc: str, chart_id: str) -> list[str]:
    tid, did = f"{chart_id}-title", f"{chart_id}-desc"
    return [
        (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" class="chart" '
        f'aria-labelledby="{tid} {did}" font-family={quoteattr(FONT)} font-size="13">'),
        f'<title id="{tid}">{escape(title)}</title>',
        f'<desc id="{did}">{escape(desc)}</desc>',
    ]


def bar_chart(
    bars: Sequence[Category],
    *,
    title: str,
    description: str = "",
    chart_id: str = "chart",
    width: int = 640,
    bar_height: int = 22,
    label_width: int = 230,
    number: Callable[[float], str] = _fmt,
    empty_text: str = "No data",
) -> Markup:
    """Return a horizontal bar chart: one labelled bar (class "mark") per category, in order."""
    gap, top, value_room = 6, 8, 64
    height = top * 2 + max(1, len(bars)) * (bar_height + gap)
    out = _svg_open(width, height, title, description or title, chart_id)
    plot = width - label_width - value_room
    biggest = max((b.value for b in bars), default=0) or 1
    if not bars:
        out.append(f'<text x="{width // 2}" y="{height // 2 + 4}" text-anchor="middle" '
                   f'fill="{MUTED_FILL}">{escape(empty_text)}</text>')
    for i, bar in enumerate(bars):
        y = top + i * (bar_height + gap)
        w = max(0.0, plot * bar.value / biggest)
        if bar.value > 0:
            w = max(w, 1.5)  # a non-zero value stays visible next to a large one
        mid = y + bar_height / 2 + 4.5
        # About 7 px per character at 13 px: cut the label to fit its column (full in <title>).
        label = _truncate(bar.label, max(8, label_width // 7 - 1))
        parts = [
            f"<title>{escape(bar.label)}: {escape(number(bar.value))}</title>",
            (f'<text x="{label_width - 8}" y="{mid:.1f}" text-anchor="end" fill="{TEXT_FILL}">'
             f"{escape(label)}</text>"),
            (f'<rect class="mark" data-key={quoteattr(bar.key)} x="{label_width}" y="{y}" '
             f'width="{w:.1f}" height="{bar_height}" rx="3" fill="{BAR_FILL}"/>'),
            (f'<text x="{label_width + w + 6:.1f}" y="{mid:.1f}" fill="{TEXT_FILL}">'
             f"{escape(number(bar.value))}</text>"),
        ]
        body = "".join(parts)
        if bar.href:
            out.append(f'<a href={quoteattr(bar.href)} class="bar">{body}</a>')
        else:
            out.append(f'<g class="bar">{body}</g>')
    out.append("</svg>")
    return Markup("\n".join(out))


def _extent(
    lats: Iterable[float], lngs: Iterable[float]
) -> tuple[float, float, float, float]:
    la, ln = list(lats), list(lngs)
    if not la:
        return ITALY
    lat0, lat1, lng0, lng1 = min(la), max(la), min(ln), max(ln)
    # Never zoom closer than about 40 km, and leave a margin around the points.
    pad_lat = max((lat1 - lat0) * 0.06, 0.2)
    pad_lng = max((lng1 - lng0) * 0.06, 0.25)
    return lat0 - pad_lat, lat1 + pad_lat, lng0 - pad_lng, lng1 + pad_lng


def dot_map(
    points: Sequence[Point],
    *,
    title: str,
    description: str = "",
    chart_id: str = "map",
    backdrop: Sequence[tuple[float, float]] = (),
    width: int = 520,
    max_radius: float = 14.0,
    number: Callable[[float], str] = _fmt,
) -> Markup:
    """Return a dot map: one circle (class "mark") per place, its area proportional to value.

    The backdrop's places (e.g. every comune of the region) are drawn as small grey squares,
    which gives the outline of the area without map tiles; the view fits the backdrop, or the
    points when there is none.
    """
    if backdrop:
        lat0, lat1, lng0, lng1 = _extent([b[0] for b in backdrop], [b[1] for b in backdrop])
    else:
        lat0, lat1, lng0, lng1 = _extent([p.lat for p in points], [p.lng for p in points])
    # Equirectangular projection, x scaled by cos(mid latitude): shapes look right at this scale.
    kx = math.cos(math.radians((lat0 + lat1) / 2))
    span_x, span_y = (lng1 - lng0) * kx, (lat1 - lat0)
    margin = max_radius + 2
    scale = (width - 2 * margin) / span_x if span_x else 1
    height = int(span_y * scale + 2 * margin)
    if height > width * 1.6:  # a tall area (the whole of Italy): fit the height instead
        height = int(width * 1.6)
        scale = (height - 2 * margin) / span_y

    def xy(lat: float, lng: float) -> tuple[float, float]:
        return margin + (lng - lng0) * kx * scale, margin + (lat1 - lat) * scale

    out = _svg_open(width, height, title, description or title, chart_id)
    if backdrop:
        cell = max(1.2, min(4.0, width / 260))
        seen: set[tuple[int, int]] = set()
        path: list[str] = []
        for lat, lng in backdrop:
            x, y = xy(lat, lng)
            key = (int(x / cell), int(y / cell))
            if key in seen:
                continue
            seen.add(key)
            path.append(f"M{key[0] * cell:.1f} {key[1] * cell:.1f}h{cell:.1f}v{cell:.1f}h-{cell:.1f}z")
        out.append(f'<path class="backdrop" d="{"".join(path)}" fill="{BACKDROP_FILL}"/>')
    biggest = max((p.value for p in points), default=0) or 1
    # Largest dots first, so small ones stay on top and visible.
    for p in sorted(points, key=lambda p: -p.value):
        x, y = xy(p.lat, p.lng)
        r = max(2.5, max_radius * math.sqrt(p.value / biggest))
        out.append(
            f'<circle class="mark" data-key={quoteattr(p.key)} cx="{x:.1f}" cy="{y:.1f}" '
            f'r="{r:.1f}" fill="{DOT_FILL}" fill-opacity="0.7" stroke="{DOT_STROKE}" '
            f'stroke-width="0.8"><title>{escape(p.label)}: {escape(number(p.value))}</title>'
            "</circle>"
        )
    out.append("</svg>")
    return Markup("\n".join(out))


def render(chart: Chart, *, empty_text: str = "No data") -> Markup:
    """Return the SVG of a chart (a bar chart or a dot map, by its kind)."""
    if chart.kind == "map":
        return dot_map(
            [r for r in chart.rows if isinstance(r, Point)], title=chart.title,
            description=chart.description, chart_id=f"chart-{chart.key}", backdrop=chart.backdrop,
        )
    return bar_chart(
        [r for r in chart.rows if isinstance(r, Category)], title=chart.title,
        description=chart.description, chart_id=f"chart-{chart.key}", empty_text=empty_text,
    )


def to_csv(chart: Chart) -> str:
    """Return the chart's data as CSV: key, label and value (and coordinates for maps)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if chart.kind == "map":
        writer.writerow(["key", chart.label_header, "lat", "lng", chart.value_header])
        for p in chart.rows:
            assert isinstance(p, Point)
            writer.writerow([p.key, p.label, f"{p.lat:.5f}", f"{p.lng:.5f}", _plain(p.value)])
    else:
        writer.writerow(["key", chart.label_header, chart.value_header])
        for c in chart.rows:
            writer.writerow([c.key, c.label, _plain(c.value)])
    return out.getvalue()


def _plain(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.4f}"
