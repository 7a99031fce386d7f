"""Mask personal data in the text a report publishes (description, imported ``source``).

What residents write is not what a form field would hold: a telephone number comes as
``0812-3456-7890``, ``0812 / 3456 / 7890``, ``+62 812_3456_7890`` or ``(024) 351 1234``, an
e-mail as ``budi at gmail dot com`` or ``budi[at]yahoo[dot]co[dot]id``, the reporter's
name as just ``BUDI`` when they gave "Budi Santoso". The rules, each tested in
``tests/test_reports_masking.py`` (the corpus in ``tests/fixtures/masking_corpus.yaml``):

- **numbers**: any run of 9 or more digits, whatever separates them (up to three of
  space, ``-``, ``.``, ``/``, ``_``, parentheses): telephone numbers with ``+62``, ``62``
  or ``0`` (Indonesian mobile numbers have 10–13 digits with the leading 0, landlines a
  2–3 digit area code after the 0 and 5–8 digits), the 16-digit NIK and KK numbers, bank
  accounts. A shorter run (6–8 digits) is masked after a contact word (``telp``, ``hp``, ``wa``, …).
  Dates (``12/03/2026``, ``2026-03-12``) are set aside first, so they are never taken for
  numbers; an amount after ``Rp`` stays;
- **e-mail addresses**: ``@`` or ``at`` (alone, or in brackets), then a domain whose
  dots may be written ``dot`` or ``titik``; ``at`` followed by a known webmail name
  (``gmail``, ``yahoo``…) even without the dot;
- **the reporter's name**: the whole name and each part of it of three letters or more
  (but honorifics such as ``Pak``, ``Ibu``), as a whole word, in any case; and the
  contact details the reporter gave, written exactly as given.

Masking cannot know every name in a text (a neighbour's, an official's): the original
text is private and staff read it; the public one is what these rules leave.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SEP = r"[ \t().\-/_–]{0,3}"
# 9+ digits with separators, optionally after + or 00 (international prefix)
LONG_NUMBER = re.compile(rf"(?<![\w+])(?:\+|\b00)?\(?\d(?:{SEP}\d){{8,}}(?![\w])")
CONTACT_WORD = (
    r"(?:telp|tlp|telepon|telpon|tel|hp|handphone|ponsel|wa|whatsapp|no\.?\s*hp|"
    r"no\.?\s*wa|kontak|contact|phone|call|sms|nomor|nomer|no)"
)
SHORT_NUMBER = re.compile(
    rf"(?<!\w){CONTACT_WORD}\.?\s*[:=]?\s*(?:di|ke)?\s*\+?\(?\d(?:{SEP}\d){{5,}}(?![\w])",
    re.IGNORECASE,
)
DATES = re.compile(
    r"(?<![\w./-])(?:\d{1,2}[-/.]\d{1,2}[-/.](?:19|20)\d{2}|(?:19|20)\d{2}[-/.]\d{1,2}[-/.]\d{1,2})"
    r"(?![\w/])"
)
AMOUNT_BEFORE = re.compile(r"\bRp\.?\s*$", re.IGNORECASE)

_AT = r"(?:\s*@\s*|\s*[\[({<]\s*(?:at|@)\s*[\])}>]\s*|\s+at\s+)"
# a bare "." without spaces: "tumbang at Jl. Pemuda" is not an address
_DOT = r"(?:\.|\s*[\[({<]\s*(?:dot|titik)\s*[\])}>]\s*|\s+(?:dot|titik)\s+)"
_LOCAL = r"[A-Za-z0-9._%+\-]{1,64}"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62})"
WEBMAIL = r"(?:gmail|googlemail|yahoo|ymail|hotmail|outlook|live|icloud|proton|protonmail)"
EMAIL = re.compile(
    rf"(?<![\w.%+\-]){_LOCAL}{_AT}(?:{_LABEL}(?:{_DOT}{_LABEL})*{_DOT}[A-Za-z]{{2,24}}|{WEBMAIL})"
    r"(?![\w])",
    re.IGNORECASE,
)
# Words a name may contain that are not the person's: masking them would hide the text.
HONORIFICS = frozenset(
    "bapak pak ibu bu mas mbak mba kak adik dik saudara saudari sdr sdri tuan nyonya nona "
    "haji hajah dokter prof ir dr drs dra hj".split()
)
MIN_NAME_PART = 3
_PROTECT = "\ue000"  # private-use characters: cannot come from the (cleaned) text


def _protected(text: str) -> tuple[str, list[str]]:
    """The text with its dates replaced by placeholders without digits, and the dates."""
    found: list[str] = []

    def hold(m: re.Match[str]) -> str:
        found.append(m[0])
        return _PROTECT + chr(0xE100 + len(found) - 1) + _PROTECT

    return DATES.sub(hold, text), found


def _restored(text: str, found: list[str]) -> str:
    return re.sub(
        f"{_PROTECT}(.){_PROTECT}", lambda m: found[ord(m[1]) - 0xE100], text, flags=re.DOTALL
    )


def _numbers(text: str, replacement: str) -> str:
    def long(m: re.Match[str]) -> str:
        return m[0] if AMOUNT_BEFORE.search(text, 0, m.start()) else replacement

    text = LONG_NUMBER.sub(long, text)
    return SHORT_NUMBER.sub(lambda m: _keep_word(m, replacement), text)


def _keep_word(m: re.Match[str], replacement: str) -> str:
    """``telp 3511234`` -> ``telp [disamarkan]``: the word stays, the number goes."""
    digit = re.search(r"[+(]?\d", m[0])
    assert digit is not None
    return m[0][: digit.start()] + replacement


def name_parts(name: str | None) -> list[str]:
    """The strings of a name that are masked: the whole name, then its parts."""
    if not name or not name.strip():
        return []
    words = name.split()
    while words and words[0].strip(".").casefold() in HONORIFICS:  # "Pak Budi" -> "Budi"
        words.pop(0)
    whole = " ".join(words)
    parts = [p for p in re.split(r"[^\w'’]+", whole) if p]
    keep = [
        p
        for p in parts
        if len(p) >= MIN_NAME_PART and p.casefold() not in HONORIFICS and not p.isdigit()
    ]
    out = [whole] if len(whole) >= MIN_NAME_PART else []
    return out + sorted(set(keep) - set(out), key=len, reverse=True)


def mask_text(
    text: str, replacement: str, name: str | None = None, given: Iterable[str | None] = ()
) -> str:
    """``text`` with numbers, e-mail addresses, the name and the ``given`` contacts masked."""
    out = text
    for literal in sorted({g for g in given if g and len(g) >= 5}, key=len, reverse=True):
        out = re.sub(re.escape(literal), replacement, out, flags=re.IGNORECASE)
    out = EMAIL.sub(replacement, out)
    out, dates = _protected(out)
    out = _numbers(out, replacement)
    out = _restored(out, dates)
    for part in name_parts(name):
        words = r"\s+".join(re.escape(w) for w in part.split())
        out = re.sub(rf"(?<!\w){words}(?!\w)", replacement, out, flags=re.IGNORECASE)
    return out
