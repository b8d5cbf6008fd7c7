"""Progress lines for long steps, readable on a terminal and in a CI log alike.

Messages look like ``"<step>: <count>"`` (``"pull Order: 4,000"``). On a terminal each one
overwrites the last on one line. Elsewhere (CI, a pipe, a log file) carriage returns would pile
up into one unreadable line, so the last message of each step is printed on its own line, plus
one line whenever ``interval`` seconds pass inside a long step.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

WIDTH = 60


class Progress:
    """Callable sink for progress messages; :meth:`done` ends the current line or step."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        tty: bool | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = interval
        self.clock = clock
        self._pending: str | None = None  # the newest message not yet printed (not on a tty)
        self._step: str | None = None
        self._last_print = clock()
        self._on_line = False  # a tty line holds a message

    def __call__(self, message: str) -> None:
        if self.tty:
            self.stream.write(f"\r{message:<{WIDTH}}")
            self.stream.flush()
            self._on_line = True
            return
        step = message.split(":", 1)[0]
        if step != self._step:
            self._flush()
            self._step = step
        self._pending = message
        if self.clock() - self._last_print >= self.interval:
            self._flush()

    def done(self) -> None:
        """End the step: clear the terminal line, or print the step's last message."""
        if self.tty:
            if self._on_line:
                self.stream.write("\r" + " " * WIDTH + "\r")
                self.stream.flush()
                self._on_line = False
            return
        self._flush()
        self._step = None

    def _flush(self) -> None:
        if self._pending is not None:
            self.stream.write(self._pending + "\n")
            self.stream.flush()
            self._pending = None
            self._last_print = self.clock()
