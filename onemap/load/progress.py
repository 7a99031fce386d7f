"""Progress of a load: a no-op by default, a rich bar on a terminal (``onemap load``).

The bar goes to stderr, appears only when the load has run for ``delay`` seconds (short
loads print nothing), and never when stderr is not a terminal (pipes, CI, tests).
"""

from __future__ import annotations

import sys
import time


class Progress:
    """What the loader reports: rows read of a total, and the phase it is in."""

    def start(self, total: int | None, description: str) -> None:
        """A new load of ``total`` rows (None: unknown) begins."""

    def advance(self, rows: int) -> None:
        """``rows`` more rows were read and validated."""

    def phase(self, description: str) -> None:
        """The loader moved on (indexing, publishing…)."""

    def stop(self) -> None:
        """The load ended (either way)."""


class RichProgress(Progress):
    """A rich progress bar on stderr, shown after ``delay`` seconds, only on a terminal."""

    def __init__(self, delay: float = 1.5, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.delay = delay
        self._bar = None
        self._task = None
        self._started = 0.0
        self._total: int | None = None
        self._done = 0
        self._description = ""

    def start(self, total: int | None, description: str) -> None:
        """Remember the total; the bar itself waits for ``delay``."""
        self._started = time.monotonic()
        self._total, self._description = total, description

    def _show(self) -> None:
        if self._bar is not None or not self.enabled:
            return
        if time.monotonic() - self._started < self.delay:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import (
            Progress as Bar,
        )

        self._bar = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=self.stream),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(self._description, total=self._total, completed=self._done)

    def advance(self, rows: int) -> None:
        """Count rows; show the bar once the load has been running for a while."""
        self._done += rows
        self._show()
        if self._bar is not None:
            self._bar.update(self._task, completed=self._done)

    def phase(self, description: str) -> None:
        """Name the phase on the bar."""
        self._description = description
        self._show()
        if self._bar is not None:
            self._bar.update(self._task, description=description)

    def stop(self) -> None:
        """Remove the bar."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
