"""Tables that fit the terminal they print to, with no value cut short.

rich shrinks a table that is wider than the terminal by cutting every cell ("Sem…",
"33.…"), which loses exactly the codes and numbers a reader came for, and prints to a
pipe at 80 columns. Here numbers and codes are never cut: long text wraps (at most
``TEXT_WIDTH`` wide), and when the columns still do not fit, the table is split into
parts that each repeat the key column(s) — the columns are chosen per part, in order.
Full values in machine form: ``--format csv`` or ``json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table

TEXT_WIDTH = 28  # a text column wraps to this width when the table is too wide
# Width rich adds per column (a space of padding each side and the separator) and per table.
COLUMN_CHROME, TABLE_CHROME = 3, 1


@dataclass(frozen=True)
class Column:
    """A column: header, alignment, and whether its values may wrap (text) or not (codes,
    numbers, dates)."""

    header: str
    justify: str = "left"
    wrap: bool = False


def _width(column: Column, cells: Sequence[str]) -> int:
    """The column's width: its longest value (text: at most TEXT_WIDTH) or header word."""
    longest = max((len(c) for c in cells), default=0)
    header_word = max((len(w) for w in column.header.split()), default=1)
    value = min(longest, TEXT_WIDTH) if column.wrap else longest
    return max(value, header_word, 1)


def _parts(widths: list[int], keys: int, width: int) -> list[list[int]]:
    """Column indexes per part: the key columns, then as many of the rest as fit."""
    key_cols = list(range(min(keys, len(widths))))
    base = TABLE_CHROME + sum(widths[i] + COLUMN_CHROME for i in key_cols)
    parts: list[list[int]] = []
    current, used = list(key_cols), base
    for i in range(len(key_cols), len(widths)):
        need = widths[i] + COLUMN_CHROME
        if used + need > width and len(current) > len(key_cols):
            parts.append(current)
            current, used = list(key_cols), base
        current.append(i)
        used += need
    parts.append(current)
    return parts


def fitted_tables(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    width: int,
    *,
    keys: int = 1,
    caption: str | None = None,
) -> list[Table]:
    """``rows`` as one table no wider than ``width``, or several that share the key columns."""
    widths = [_width(c, [r[i] for r in rows]) for i, c in enumerate(columns)]
    parts = _parts(widths, keys, width)
    tables = []
    for n, part in enumerate(parts, 1):
        suffix = f" ({n}/{len(parts)})" if len(parts) > 1 else ""
        table = Table(title=title + suffix, title_justify="left")
        for i in part:
            c = columns[i]
            table.add_column(
                c.header,
                justify=c.justify,  # type: ignore[arg-type]
                # the widths chosen here, not rich's (which would cut values to fit)
                min_width=widths[i],
                max_width=widths[i],
                # headers wrap at spaces; values fit min_width, so only text ever wraps
                overflow="fold",
            )
        for row in rows:
            table.add_row(*(row[i] for i in part))
        tables.append(table)
    if caption:
        tables[-1].caption, tables[-1].caption_justify = caption, "left"
    return tables
