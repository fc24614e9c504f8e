"""Server-rendered SVG charts for the supervision dashboard: no JavaScript, readable by screen readers.

Each chart is an <svg role="img"> with <title> and <desc> (aria-labelledby both), text labels on the
data, and a viewBox that scales to the container (the page shows the same figures as a table too).
The narrow viewBox keeps labels legible on a 360 px phone. All text is escaped.
"""

from __future__ import annotations

import itertools
from html import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH = 400
FONT = 12
_ids = itertools.count(1)

SERIES_CLASSES = ("chart-s1", "chart-s2", "chart-s3", "chart-s4")


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "无数据"
    text = f"{v:.1f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v)
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}".rstrip()


def _open(height: int, title: str, desc: str, css: str) -> tuple[str, str]:
    n = next(_ids)
    tid, did = f"chart-t{n}", f"chart-d{n}"
    head = (f'<svg class="chart {css}" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{tid} {did}" '
            f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="{tid}">{escape(title)}</title><desc id="{did}">{escape(desc)}</desc>')
    return head, "</svg>"


def _short(label: str, limit: int = 18) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(*, title: str, labels: list[str], values: list[float | None], unit: str = "%", max_value: float | None = None,
              target: float | None = None, target_label: str = "目标") -> SafeString:
    """Horizontal bars, the label above each bar and the value at its end; an optional target line."""
    if not labels:
        return mark_safe(f'<p class="chart-empty">{escape(title)}:暂无数据。</p>')
    row = 34
    top = 8 + (16 if target is not None else 0)
    height = top + row * len(labels) + 6
    known = [v for v in values if v is not None]
    scale_max = max_value or max(known + [target or 0, 1])
    pairs = ";".join(f"{lbl} {_fmt(v, unit)}" for lbl, v in zip(labels, values))
    desc = f"{title}。" + pairs + (f"。{target_label} {_fmt(target, unit)}" if target is not None else "")
    head, tail = _open(height, title, desc, "chart-bars")
    left, right = 4, WIDTH - 56
    span = right - left
    parts = [head]
    for i, (label, v) in enumerate(zip(labels, values)):
        y = top + i * row
        parts.append(f'<text class="chart-label" x="{left}" y="{y + 11}" font-size="{FONT}">{escape(_short(label, 30))}</text>')
        parts.append(f'<rect class="chart-track" x="{left}" y="{y + 15}" width="{span}" height="12" rx="2"/>')
        if v is not None:
            w = max(0.0, min(1.0, v / scale_max)) * span
            parts.append(f'<rect class="chart-bar" x="{left}" y="{y + 15}" width="{w:.1f}" height="12" rx="2"/>')
        parts.append(f'<text class="chart-value" x="{right + 4}" y="{y + 25}" font-size="{FONT}">{escape(_fmt(v, unit))}</text>')
    if target is not None:
        x = left + min(1.0, target / scale_max) * span
        parts.append(f'<line class="chart-target" x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{height - 4}"/>')
        anchor = "end" if x > WIDTH / 2 else "start"
        parts.append(f'<text class="chart-target-label" x="{x:.1f}" y="{top - 7}" font-size="{FONT - 1}" text-anchor="{anchor}">'
                     f'{escape(target_label)} {escape(_fmt(target, unit))}</text>')
    parts.append(tail)
    return mark_safe("".join(parts))


def line_chart(*, title: str, labels: list[str], series: list[tuple[str, list[float | None]]], unit: str = "%",
               max_value: float | None = None) -> SafeString:
    """A line per series over the labels (months); gaps where a value is None; a legend in text."""
    if not labels or not series:
        return mark_safe(f'<p class="chart-empty">{escape(title)}:暂无数据。</p>')
    legend_h = 18 * len(series)
    plot_top, plot_h = 10 + legend_h, 150
    left, right = 38, WIDTH - 10
    height = plot_top + plot_h + 28
    known = [v for _, vals in series for v in vals if v is not None]
    top_value = max_value or (max(known) * 1.1 if known else 1) or 1
    desc_parts = []
    for name, vals in series:
        desc_parts.append(name + ":" + ",".join(f"{lbl} {_fmt(v, unit)}" for lbl, v in zip(labels, vals)))
    head, tail = _open(height, title, f"{title}。" + ";".join(desc_parts), "chart-lines")
    parts = [head]
    for i, (name, _) in enumerate(series):
        y = 8 + 18 * i
        css = SERIES_CLASSES[i % len(SERIES_CLASSES)]
        parts.append(f'<line class="chart-line {css}" x1="{left}" x2="{left + 22}" y1="{y + 6}" y2="{y + 6}"/>')
        parts.append(f'<text class="chart-label" x="{left + 28}" y="{y + 10}" font-size="{FONT}">{escape(name)}</text>')
    for k in range(5):  # grid and y labels
        v = top_value * k / 4
        y = plot_top + plot_h - plot_h * k / 4
        parts.append(f'<line class="chart-grid" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="chart-axis" x="{left - 4}" y="{y + 4:.1f}" font-size="{FONT - 2}" text-anchor="end">'
                     f'{escape(_fmt(round(v, 1) if unit == "%" else round(v), unit if unit == "%" else ""))}</text>')
    n = len(labels)
    step_x = (right - left) / max(1, n - 1) if n > 1 else 0
    xs = [left + (step_x * i if n > 1 else (right - left) / 2) for i in range(n)]
    every = max(1, -(-n // 6))  # at most about six month labels
    for i, lbl in enumerate(labels):
        if i % every == 0 or i == n - 1:
            # the end labels keep inside the chart: the first starts at its point, the last ends at it
            anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
            parts.append(f'<text class="chart-axis" x="{xs[i]:.1f}" y="{plot_top + plot_h + 16}" font-size="{FONT - 2}" '
                         f'text-anchor="{anchor}">{escape(lbl)}</text>')
    for s, (name, vals) in enumerate(series):
        css = SERIES_CLASSES[s % len(SERIES_CLASSES)]
        segment: list[str] = []
        segments = []
        for i, v in enumerate(vals):
            if v is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            y = plot_top + plot_h - plot_h * min(1.0, max(0.0, v / top_value))
            segment.append(f"{xs[i]:.1f},{y:.1f}")
            parts.append(f'<circle class="chart-dot {css}" cx="{xs[i]:.1f}" cy="{y:.1f}" r="2.5"/>')
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) > 1:
                parts.append(f'<polyline class="chart-line {css}" points="{" ".join(seg)}"/>')
    parts.append(tail)
    return mark_safe("".join(parts))
