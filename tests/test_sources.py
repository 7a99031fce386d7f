"""Domain facts are cited from the repository: docs/standards.md, never a file outside it.

Code comments, configuration and docs cite the standards as ``docs/standards.md §n.m``;
every such reference must name a section that exists, so renumbering the document without
updating its citations fails here.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from onemap.core.settings import project_root

ROOT = project_root()
STANDARDS = "docs/standards.md"
# The project's former private notes, a file outside the repository. Spelled in two parts
# so that this test does not contain the name it forbids.
OUTSIDE_NOTES = "DOMAIN" + ".md"
# "docs/standards.md §2.3", "… §2.3, §3.3", "… §3.5 and §4.2" (possibly across a line break).
REFERENCE = re.compile(r"docs/standards\.md((?:(?:\s*,\s*|\s+and\s+|\s+)§\d+(?:\.\d+)*)+)")
SECTION_NUMBER = re.compile(r"§(\d+(?:\.\d+)*)")
HEADING = re.compile(r"^#{2,6}\s+(\d+(?:\.\d+)*)\.?\s", re.MULTILINE)


def _tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [p for p in out.split("\0") if p and (ROOT / p).is_file()]


def _text(path: str) -> str:
    return (ROOT / path).read_bytes().decode("utf-8", errors="replace")


def cited_sections(text: str) -> list[str]:
    """Section numbers cited as ``docs/standards.md §…`` in ``text``."""
    return [n for m in REFERENCE.finditer(text) for n in SECTION_NUMBER.findall(m.group(1))]


def sections(text: str) -> set[str]:
    """Numbers of the numbered headings (``## 2. Roads``, ``### 2.3 Kemantapan``)."""
    return set(HEADING.findall(text))


@pytest.mark.parametrize(
    ("text", "cited"),
    [
        ("see docs/standards.md §1.4.", ["1.4"]),
        ("(docs/standards.md §2.3, §3.3)", ["2.3", "3.3"]),
        ("from docs/standards.md §3.5 and\n§4.2 (RTRW", ["3.5", "4.2"]),
        ("listed in docs/standards.md §7 unless stated", ["7"]),
        ("details in docs/standards.md.", []),
    ],
)
def test_cited_sections_parses_references(text, cited):
    assert cited_sections(text) == cited


def test_no_tracked_file_cites_notes_outside_the_repository():
    files = _tracked_files()
    assert STANDARDS in files
    offenders = [p for p in files if OUTSIDE_NOTES in _text(p)]
    assert offenders == [], f"{OUTSIDE_NOTES} is not in the repository; cite {STANDARDS}"


def test_every_standards_reference_names_an_existing_section():
    standards = _text(STANDARDS)
    known = sections(standards)
    assert {"1", "2", "3", "4", "5", "6", "7"} <= known
    cited: dict[str, set[str]] = {}
    for path in _tracked_files():
        for number in cited_sections(_text(path)):
            cited.setdefault(number, set()).add(path)
    # The document's own cross-references ("see §2.4").
    for number in SECTION_NUMBER.findall(standards):
        cited.setdefault(number, set()).add(STANDARDS)
    assert len(cited) > 10, "the references are no longer found: check REFERENCE"
    missing = {n: sorted(paths) for n, paths in cited.items() if n not in known}
    assert missing == {}, f"sections cited but not in {STANDARDS}: {missing}"
