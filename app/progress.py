"""Progress of the on-demand commands: a bar on a terminal, plain lines anywhere else (logs, CI, pipes)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from typing import TextIO

# What a long-running job reports after each item: how many are done, of how many, and about the last one.
ProgressCallback = Callable[[int, int, str], None]

_BAR_WIDTH = 24


class ProgressReporter:
    """Call it with (done, total, detail) after each item; `close()` ends the bar's line."""

    def __init__(self, label: str, stream: TextIO | None = None, *, bar: bool | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.bar = self.stream.isatty() if bar is None else bar
        self._drawn = False

    def __call__(self, done: int, total: int, detail: str) -> None:
        if not self.bar:
            self.stream.write(f"{self.label}: [{done}/{total}] {detail}\n")
            self.stream.flush()
            return
        self.stream.write("\r" + self._bar_line(done, total, detail))
        self.stream.flush()
        self._drawn = True

    def _bar_line(self, done: int, total: int, detail: str) -> str:
        fraction = done / total if total else 1.0
        filled = round(_BAR_WIDTH * fraction)
        line = f"{self.label} [{'#' * filled}{'-' * (_BAR_WIDTH - filled)}] {done}/{total} {fraction:4.0%}  {detail}"
        # One terminal line, redrawn in place: cut what does not fit, blank out what the last one left.
        width = max(shutil.get_terminal_size((100, 20)).columns - 1, 20)
        return line[:width].ljust(width)

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
