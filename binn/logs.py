"""Logging set-up shared by the CLI commands (to stderr, optionally also to a file), and the
progress of long work (:class:`Progress`, :func:`progress`): a bar on a terminal, periodic
lines in logs."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

#: attribute of the log records :class:`Progress` writes; a terminal's handler drops them
#: (the bar shows the same), a log file keeps them
PROGRESS_RECORD = "binn_progress"


class _DropProgressOnTerminal(logging.Filter):
    """Drop progress records on a handler whose stream is a terminal (the bar is there)."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self.stream = stream

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, PROGRESS_RECORD, False):
            return True
        return not _is_terminal(self.stream)


def _is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is a terminal (False for anything without a working ``isatty``)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def configure_logging(level: str = "INFO", log_file: str | Path | None = None) -> None:
    """Send binn's log records to stderr (and ``log_file`` when given).

    Progress lines (:class:`Progress`) reach stderr only when it is not a terminal (on a
    terminal the bar shows progress); the log file always gets them.
    """
    stream = logging.StreamHandler()
    stream.addFilter(_DropProgressOnTerminal(stream.stream))
    handlers: list[logging.Handler] = [stream]
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file))
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )


class Progress:
    """Progress of ``total`` items of long work: a tqdm bar on a terminal, and log lines.

    Use as a context manager and call :meth:`update` as items finish (thread-safe: pairs
    registered in parallel may report from several threads)::

        with Progress(len(pairs), "tracking patient001 demons", unit="pair") as bar:
            for pair in pairs:
                ...
                bar.update()

    Log lines (INFO, on ``logger``) say ``done/total unit (percent), seconds elapsed, about
    seconds left``; one is written each time another ``every_percent`` % is done or
    ``every_seconds`` s have passed since the last, whichever comes first, but none in the
    first ``quiet_seconds`` s (short work logs nothing), and a closing line when any was
    written. ``bar``: None shows a bar when stderr is a terminal. ``clock`` returns seconds
    (tests pass their own).
    """

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str = "item",
        *,
        logger: logging.Logger | None = None,
        every_percent: float = 10.0,
        every_seconds: float = 60.0,
        quiet_seconds: float = 5.0,
        bar: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if total < 0:
            raise ValueError(f"total must be >= 0, got {total}")
        self.total = int(total)
        self.desc = desc
        self.unit = unit
        self.done = 0
        self.lines = 0
        self.log = logger if logger is not None else logging.getLogger("binn.progress")
        self.every_percent = float(every_percent)
        self.every_seconds = float(every_seconds)
        self.quiet_seconds = float(quiet_seconds)
        self.clock = clock
        self.start = clock()
        self.last_line = self.start
        self.next_percent = self.every_percent
        self._lock = threading.Lock()
        self._bar = None
        if bar if bar is not None else _is_terminal(sys.stderr):
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=desc, unit=unit, file=sys.stderr)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(finished=exc[0] is None)

    def update(self, n: int = 1) -> None:
        """Count ``n`` more items done; log a line when one is due."""
        with self._lock:
            self.done += int(n)
            if self._bar is not None:
                self._bar.update(int(n))
            now = self.clock()
            elapsed = now - self.start
            percent = 100.0 * self.done / self.total if self.total else 100.0
            due = percent >= self.next_percent or now - self.last_line >= self.every_seconds
            if due and elapsed >= self.quiet_seconds and self.done < self.total:
                self._line(elapsed, percent)
                self.last_line = now
            while self.next_percent <= percent:
                self.next_percent += self.every_percent

    def _line(self, elapsed: float, percent: float) -> None:
        left = elapsed * (self.total - self.done) / self.done if self.done else float("nan")
        self.lines += 1
        self.log.info(
            "%s: %d/%d %ss (%.0f%%), %.0f s elapsed, about %.0f s left",
            self.desc, self.done, self.total, self.unit, percent, elapsed, left,
            extra={PROGRESS_RECORD: True},
        )  # fmt: skip

    def close(self, finished: bool = True) -> None:
        """Close the bar; log the closing line when progress lines were written."""
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            if self.lines:
                elapsed = self.clock() - self.start
                state = "done" if finished else "stopped"
                self.log.info(
                    "%s: %s, %d/%d %ss in %.0f s",
                    self.desc, state, self.done, self.total, self.unit, elapsed,
                    extra={PROGRESS_RECORD: True},
                )  # fmt: skip
                self.lines = 0


def progress[T](
    items: Iterable[T], total: int | None = None, desc: str = "", unit: str = "item", **kwargs: Any
) -> Iterator[T]:
    """Yield ``items`` while showing their progress (:class:`Progress`; ``kwargs`` go to it).

    ``total`` defaults to ``len(items)``.
    """
    if total is None:
        total = len(items)  # type: ignore[arg-type]
    with Progress(total, desc, unit, **kwargs) as bar:
        for item in items:
            yield item
            bar.update()
