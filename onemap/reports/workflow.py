"""The status workflow of a report, shared by intake, imports, staff changes and the
database functions that enforce it (``sql/040_staff.sql``, formatted with these).

A report moves forward along ``ORDER`` (steps may be skipped), or to ditolak from any
open status; ``FINAL`` statuses are final.
"""

from __future__ import annotations

ORDER = ("baru", "diverifikasi", "diteruskan", "dikerjakan", "selesai")
FINAL = ("selesai", "ditolak")
