"""Classed breaks for the choropleths: Fisher–Jenks natural breaks and a sequential palette.

Sixteen districts are too few for quantiles (ties and zeros give empty or duplicate
classes: several kecamatan have no flood at all) and equal intervals let one outlier
squeeze everyone else into the first class. Natural breaks put the class limits in the
gaps of the data: Fisher's exact method (1958) — the grouping of the sorted values into
``k`` classes with the least total squared deviation from the class means — which is what
"Jenks natural breaks" approximates. With at most a few hundred areas the dynamic
programme is instant.

One neutral palette for every indicator (darker = higher): whether higher is better
(kemantapan) or worse (heavy damage) is for the reader, told by the title and legend.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from onemap.publish.maps.templating import format_number

MAX_CLASSES = 5
# ColorBrewer YlGnBu, sequential (Cynthia Brewer, colorbrewer2.org; Apache-2.0).
PALETTES = {
    1: ("#41b6c4",),
    2: ("#a1dab4", "#225ea8"),
    3: ("#edf8b1", "#7fcdbb", "#2c7fb8"),
    4: ("#ffffcc", "#a1dab4", "#41b6c4", "#225ea8"),
    5: ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"),
}
MISSING_COLOR = "#d9d9d9"
METHOD = (
    "Kelas: natural breaks (Jenks–Fisher); rentang = nilai kecamatan terkecil–terbesar dalam kelas",
    "Classes: natural breaks (Jenks–Fisher); ranges are the smallest–largest district "
    "value in each class",
)


def natural_breaks(values: Sequence[float], k: int) -> list[list[float]]:
    """``values`` grouped into ``k`` classes (sorted), minimising within-class variance.

    Fisher's exact algorithm: ``cost[c][j]`` is the least sum of squared deviations of
    the first ``j + 1`` sorted values split into ``c + 1`` classes.
    """
    x = sorted(values)
    n = len(x)
    if n == 0:
        return []
    k = max(1, min(k, len(set(x))))
    s1, s2 = [0.0], [0.0]
    for v in x:
        s1.append(s1[-1] + v)
        s2.append(s2[-1] + v * v)

    def ssd(i: int, j: int) -> float:  # x[i..j], inclusive
        m = j - i + 1
        s = s1[j + 1] - s1[i]
        return (s2[j + 1] - s2[i]) - s * s / m

    inf = float("inf")
    cost = [[ssd(0, j) for j in range(n)]] + [[inf] * n for _ in range(k - 1)]
    start = [[0] * n for _ in range(k)]
    for c in range(1, k):
        for j in range(c, n):
            for i in range(c, j + 1):  # class c is x[i..j]
                if x[i] == x[i - 1]:
                    continue  # equal values stay in one class
                total = cost[c - 1][i - 1] + ssd(i, j)
                if total < cost[c][j]:
                    cost[c][j], start[c][j] = total, i
    classes, j = [], n - 1
    for c in range(k - 1, -1, -1):
        i = start[c][j] if c else 0
        classes.append(x[i : j + 1])
        j = i - 1
    return classes[::-1]


@dataclass(frozen=True)
class ClassBreaks:
    """Classes of one indicator: ``(low, high)`` per class (data values), colours, counts."""

    ranges: tuple[tuple[float, float], ...]
    colors: tuple[str, ...]
    counts: tuple[int, ...]
    missing: int = 0

    def index(self, value: float | None) -> int | None:
        """The class of ``value`` (None when missing)."""
        if value is None:
            return None
        for i, (_, high) in enumerate(self.ranges):
            if value <= high:
                return i
        return len(self.ranges) - 1

    def label(self, i: int, unit: str | None = None) -> str:
        """``"2,42–6,7 %"``, or one number when the class holds a single value."""
        low, high = self.ranges[i]
        text = format_number(low) if low == high else f"{format_number(low)}–{format_number(high)}"
        return f"{text} {unit}" if unit else text


def classify(values: Iterable[float | None], max_classes: int = MAX_CLASSES) -> ClassBreaks:
    """Natural-breaks classes of the non-missing ``values`` with their palette colours."""
    values = list(values)
    present = [float(v) for v in values if v is not None]
    groups = natural_breaks(present, max_classes)
    palette = PALETTES.get(len(groups), ())
    return ClassBreaks(
        ranges=tuple((g[0], g[-1]) for g in groups),
        colors=tuple(palette),
        counts=tuple(len(g) for g in groups),
        missing=len(values) - len(present),
    )
