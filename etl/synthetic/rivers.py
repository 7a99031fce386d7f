"""Schematic courses of Semarang's main rivers and flood canals, used to carve the DEM.

The names and the drainage systems they belong to come from docs/standards.md §3.5 and
§4.2 (RTRW via Bappeda 2011; Perda 7/2014 drainage masterplan). The courses are ROUGH
sketches from general knowledge of the city's geography (a few vertices each, accurate
to several hundred metres at best): they only steer the synthetic terrain so that the
synthetic primer channels run roughly where the real ones do. They are not survey data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class River:
    """A primer channel: its name, nominal top width, depth and an inland course.

    ``course`` runs downstream, in (lon, lat); the generator extends its last vertex
    due north to the sea unless the river ends in another one (``joins``).
    """

    name: str
    width_m: float
    depth_m: float
    course: tuple[tuple[float, float], ...]
    joins: str | None = None
    river_flood: bool = False  # draw a river-flood (sungai) strip along it


# Order matters: a river traced later stops where it meets one traced earlier.
RIVERS: tuple[River, ...] = (
    # Banjir Kanal Barat: Kali Garang below Bendung Simongan, ~5.3 km, ~50 m wide
    # (docs/standards.md §3.5).
    River(
        "Banjir Kanal Barat",
        50,
        4.5,
        ((110.3985, -7.0000), (110.3960, -6.9850), (110.3945, -6.9650), (110.3935, -6.9520)),
    ),
    River(
        "Kali Garang",
        35,
        4.0,
        (
            (110.4060, -7.1000),
            (110.4020, -7.0700),
            (110.3960, -7.0450),
            (110.3935, -7.0250),
            (110.3985, -7.0000),
        ),
        joins="Banjir Kanal Barat",
    ),
    River(
        "Kali Kreo",
        25,
        3.5,
        (
            (110.3200, -7.0900),
            (110.3450, -7.0600),
            (110.3600, -7.0450),
            (110.3800, -7.0380),
            (110.3935, -7.0300),
        ),
        joins="Kali Garang",
    ),
    River(
        "Banjir Kanal Timur",
        40,
        4.0,
        (
            (110.4350, -7.0450),
            (110.4480, -7.0200),
            (110.4540, -7.0000),
            (110.4530, -6.9750),
            (110.4520, -6.9580),
        ),
        river_flood=True,
    ),
    River(
        "Kali Babon",
        25,
        3.5,
        (
            (110.4700, -7.0800),
            (110.4800, -7.0400),
            (110.4850, -7.0100),
            (110.4900, -6.9800),
            (110.4930, -6.9560),
        ),
        river_flood=True,
    ),
    River(
        "Kali Beringin",
        20,
        3.0,
        ((110.3100, -7.0500), (110.3200, -7.0200), (110.3250, -6.9900), (110.3260, -6.9700)),
        river_flood=True,
    ),
    River(
        "Kali Semarang",
        15,
        3.0,
        (
            (110.4030, -6.9920),
            (110.4130, -6.9860),
            (110.4230, -6.9760),
            (110.4250, -6.9650),
            (110.4235, -6.9530),
        ),
    ),
    River("Kali Banger", 15, 3.0, ((110.4400, -6.9950), (110.4430, -6.9800), (110.4440, -6.9600))),
    River("Kali Tenggang", 12, 2.5, ((110.4650, -6.9850), (110.4660, -6.9600))),
    River("Kali Sringin", 12, 2.5, ((110.4780, -6.9900), (110.4790, -6.9600))),
    River(
        "Kali Siangker", 12, 2.5, ((110.3850, -6.9900), (110.3810, -6.9700), (110.3800, -6.9560))
    ),
    River(
        "Kali Silandak",
        15,
        2.5,
        ((110.3550, -7.0150), (110.3620, -6.9900), (110.3660, -6.9650), (110.3670, -6.9560)),
    ),
    River("Kali Tugu", 10, 2.5, ((110.3400, -7.0000), (110.3450, -6.9750), (110.3460, -6.9680))),
    River("Kali Plumbon", 15, 2.5, ((110.2850, -7.0500), (110.2950, -7.0100), (110.2990, -6.9620))),
)
