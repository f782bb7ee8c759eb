"""A progress bar for training loops that costs nothing when it has nothing to draw.

On a terminal it redraws one stderr line at most `interval` seconds apart; elsewhere
(a pipe, a log file, a test capturing stderr) it prints a plain line at each quarter
of the run; `enabled=False` silences it.

>>> import io
>>> out = io.StringIO()
>>> bar = Progress("demo", total=4, stream=out)      # not a TTY: quarter lines
>>> for step in range(4):
...     bar.update(step + 1, error=1.0 / (step + 1))
>>> bar.close()
>>> print(out.getvalue().splitlines()[-1])
demo: step 4/4 (100%), error 0.25
"""
from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Reports `step` of `total` and the current error; `update` is cheap enough to call every step."""

    WIDTH = 30

    def __init__(self, label: str, total: int, stream: TextIO | None = None, enabled: bool = True,
                 interval: float = 0.1) -> None:
        self.label, self.total, self.interval = label, total, interval
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        isatty = getattr(self.stream, "isatty", None)
        self.live = enabled and callable(isatty) and bool(isatty())
        self.start = time.monotonic()
        self._next_draw = 0.0                     # monotonic time of the next allowed redraw
        self._quarter = 1                          # the next quarter of the run that prints a line when not live
        self._drawn = False
        self._longest = 0

    def update(self, step: int, error: float) -> None:
        """Say that `step` steps are done and the error is `error`."""
        if not self.enabled:
            return
        if self.live:
            now = time.monotonic()
            if now >= self._next_draw or step >= self.total:
                self._next_draw = now + self.interval
                self._draw(step, error, now)
        elif 4 * step >= self._quarter * self.total:
            self._quarter = 4 * step // self.total + 1
            print(f"{self.label}: step {step:,}/{self.total:,} ({100 * step // self.total}%), error {error:.6g}",
                  file=self.stream, flush=True)

    def _draw(self, step: int, error: float, now: float) -> None:
        filled = self.WIDTH * step // self.total
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        line = (f"{self.label:<14} [{bar}] {100 * step // self.total:3d}% {step:,}/{self.total:,}  "
                f"error {error:.6f}  {now - self.start:5.1f}s")
        self._longest = max(self._longest, len(line))
        self.stream.write("\r" + line.ljust(self._longest))    # padded: a shorter line must hide a longer one
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the bar's line so what follows starts on a fresh one."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
