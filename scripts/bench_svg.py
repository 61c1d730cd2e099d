"""Line charts as SVG, written by hand: clients on a log-2 x axis, a log-10 y axis, one line
per system. No plotting library, so the benchmark scripts need nothing but Python."""

import math

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 80, 130, 40, 50
COLORS = {"flotilla": "#1f77b4", "etcd": "#d62728"}
FALLBACK_COLORS = ["#2ca02c", "#9467bd", "#8c564b"]


def _esc(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _label(value):
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def _ticks(lo, hi):
    """1-2-5 ticks covering [lo, hi] on a log scale."""
    ticks = []
    decade = 10 ** math.floor(math.log10(lo))
    while decade <= hi * 10:
        for m in (1, 2, 5):
            v = m * decade
            if lo <= v <= hi:
                ticks.append(v)
        decade *= 10
    return ticks


def line_chart(title, y_label, clients, series):
    """`series`: name -> list of y values, one per entry of `clients` (None: not measured)."""
    values = [v for ys in series.values() for v in ys if v and v > 0]
    if not values:
        values = [1.0]
    lo = 10 ** math.floor(math.log10(min(values)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    if hi <= lo:
        hi = lo * 10
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    x_lo, x_hi = math.log2(min(clients)), math.log2(max(clients))
    x_span = (x_hi - x_lo) or 1.0

    def x(c):
        return LEFT + (math.log2(c) - x_lo) / x_span * plot_w

    def y(v):
        return TOP + plot_h - (math.log10(v) - math.log10(lo)) / (
            math.log10(hi) - math.log10(lo)
        ) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="15">{_esc(title)}</text>',
    ]
    for v in _ticks(lo, hi):
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'stroke="#ddd"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{_label(v)}</text>'
        )
    for c in clients:
        out.append(
            f'<line x1="{x(c):.1f}" x2="{x(c):.1f}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#eee"/>'
        )
        out.append(
            f'<text x="{x(c):.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">{c}</text>'
        )
    out.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#444"/>'
    )
    out.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 10}" text-anchor="middle">'
        "clients (connections)</text>"
    )
    out.append(
        f'<text transform="translate(18,{TOP + plot_h / 2}) rotate(-90)" '
        f'text-anchor="middle">{_esc(y_label)} (log scale)</text>'
    )
    for n, (name, ys) in enumerate(series.items()):
        color = COLORS.get(name, FALLBACK_COLORS[n % len(FALLBACK_COLORS)])
        points = [(x(c), y(v)) for c, v in zip(clients, ys) if v and v > 0]
        if points:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>'
            )
        for px, py in points:
            out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{color}"/>')
        ly = TOP + 10 + 20 * n
        out.append(
            f'<line x1="{LEFT + plot_w + 12}" x2="{LEFT + plot_w + 36}" y1="{ly}" y2="{ly}" '
            f'stroke="{color}" stroke-width="2"/>'
        )
        out.append(f'<text x="{LEFT + plot_w + 42}" y="{ly + 4}">{_esc(name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
