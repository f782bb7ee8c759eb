"""Training progress: a tqdm bar on a terminal, a few plain lines elsewhere, nothing with `enabled=False`.

On a terminal, with tqdm installed (the `cli` extra), a bar with the current error as its
postfix is redrawn at most `interval` seconds apart. Off a terminal (a pipe, a log file, a test
capturing stderr), or on a terminal without tqdm, a plain line is printed at each quarter of
the run; in that last case a one-line hint says how to get the bar.

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
from typing import Any, TextIO

TQDM_HINT = "(`pip install 'tinygrad-lite[cli]'` (or tqdm) for a progress bar)"
_hinted = False     # the hint is printed once per process, not once per bar


def _tqdm() -> Any:
    """tqdm's bar class, or None when tqdm is not installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class Progress:
    """Reports `step` of `total` and the current error; `update` is cheap enough to call every step."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None, enabled: bool = True,
                 interval: float = 0.1) -> None:
        global _hinted
        self.label, self.total, self.interval = label, total, interval
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        isatty = getattr(self.stream, "isatty", None)
        on_terminal = enabled and callable(isatty) and bool(isatty())
        self.start = time.monotonic()
        self._bar: Any = None
        tqdm = _tqdm() if on_terminal else None
        if tqdm is not None:
            # Redraws are paced here (tqdm's mininterval 0): the postfix is then only formatted when drawn.
            self._bar = tqdm(total=total, desc=label, file=self.stream, unit="step", mininterval=0, miniters=0,
                             dynamic_ncols=True, leave=True)
        elif on_terminal and not _hinted:
            _hinted = True
            print(TQDM_HINT, file=self.stream, flush=True)
        self._next_draw = 0.0      # monotonic time of the next allowed redraw
        self._quarter = 1          # the next quarter of the run that prints a line (plain-line mode)

    @property
    def live(self) -> bool:
        """Whether a tqdm bar is drawn (else plain lines, or nothing)."""
        return self._bar is not None

    def update(self, step: int, error: float) -> None:
        """Say that `step` steps are done and the error is `error`."""
        if not self.enabled:
            return
        bar = self._bar
        if bar is not None:
            now = time.monotonic()
            if now >= self._next_draw or step >= self.total:
                self._next_draw = now + self.interval
                bar.set_postfix_str(f"error {error:.6f}", refresh=False)
                bar.update(step - bar.n)
        elif 4 * step >= self._quarter * self.total:
            self._quarter = 4 * step // self.total + 1
            print(f"{self.label}: step {step:,}/{self.total:,} ({100 * step // self.total}%), error {error:.6g}",
                  file=self.stream, flush=True)

    def close(self) -> None:
        """End the bar's line so what follows starts on a fresh one."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
