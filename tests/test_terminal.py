"""Terminal tables fit the terminal with no value cut (``onemap stats``, ``onemap history``)."""

from __future__ import annotations

import io

from rich.console import Console

from onemap.core.terminal import Column, fitted_tables


def _print(tables, width: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    for table in tables:
        console.print(table)
    return console.file.getvalue().splitlines()


def test_wide_table_is_split_with_its_key_and_no_cell_cut() -> None:
    columns = [Column("Kode kecamatan"), Column("Nama kecamatan", wrap=True)] + [
        Column(f"Indicator number {i} (%)", justify="right") for i in range(10)
    ]
    rows = [
        ["33.74.01", "Semarang Tengah", *[f"{1000 * i + 0.25:,.2f}" for i in range(10)]],
        ["33.74.16", "Tugu", *[f"{i:.1f}" for i in range(10)]],
    ]
    tables = fitted_tables("summary", columns, rows, 80, keys=2)
    lines = _print(tables, 80)
    assert len(tables) > 1 and all(len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    assert "…" not in text
    for value in rows[0]:  # every value printed whole, the key on every part
        assert value in text
    assert text.count("33.74.01") == len(tables)


def test_long_text_wraps_instead_of_widening() -> None:
    path = "/srv/data/kota-semarang/2025/road_condition_survey_final_v3.gpkg"
    tables = fitted_tables("runs", [Column("run", "right"), Column("file", wrap=True)],
                           [["17", path]], 80)  # fmt: skip
    lines = _print(tables, 80)
    assert len(tables) == 1 and max(len(line) for line in lines) <= 80
    assert "".join(line.strip("│ ") for line in lines).count("road_condition") == 1
