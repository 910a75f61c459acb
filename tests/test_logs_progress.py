"""Progress of long work (binn.logs): a bar on a terminal, periodic lines in logs."""

from __future__ import annotations

import io
import logging
import sys
import threading

import pytest

from binn.logs import PROGRESS_RECORD, Progress, configure_logging, progress


class Clock:
    """A clock the test advances by hand (seconds)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if getattr(r, PROGRESS_RECORD, False)]


def test_a_line_every_tenth_then_a_closing_line(caplog) -> None:
    clock = Clock()
    with caplog.at_level(logging.INFO, logger="binn.progress"):
        with Progress(100, "tracking s1 demons", "pair", bar=False, clock=clock) as bar:
            for _ in range(100):
                clock.now += 1.0  # 1 s a pair: 100 s in all
                bar.update()
    lines = _lines(caplog)
    assert len(lines) == 10  # 10 %, ..., 90 %, and the closing line
    assert lines[0] == "tracking s1 demons: 10/100 pairs (10%), 10 s elapsed, about 90 s left"
    assert lines[4].startswith("tracking s1 demons: 50/100 pairs (50%), 50 s elapsed")
    assert lines[-1] == "tracking s1 demons: done, 100/100 pairs in 100 s"


def test_short_work_logs_nothing(caplog) -> None:
    clock = Clock()
    with caplog.at_level(logging.INFO, logger="binn.progress"):
        for _ in progress(range(50), desc="quick", bar=False, clock=clock):
            clock.now += 0.01  # 0.5 s in all, under quiet_seconds
    assert _lines(caplog) == []


def test_slow_steps_log_every_interval_between_percentages(caplog) -> None:
    """With every 50 %, a line still comes every ``every_seconds``; an interrupted run's
    closing line says it stopped."""
    clock = Clock()
    with caplog.at_level(logging.INFO, logger="binn.progress"):
        with pytest.raises(KeyboardInterrupt):
            with Progress(
                40, "train", every_percent=50, every_seconds=30, bar=False, clock=clock
            ) as bar:
                for step in range(40):
                    clock.now += 10.0
                    bar.update()
                    if step == 29:
                        raise KeyboardInterrupt
    lines = _lines(caplog)
    assert [line.split(":")[1].split(",")[0] for line in lines] == [
        " 3/40 items (8%)",  # 30 s
        " 6/40 items (15%)",  # 60 s
        " 9/40 items (22%)",
        " 12/40 items (30%)",
        " 15/40 items (38%)",
        " 18/40 items (45%)",
        " 20/40 items (50%)",  # the 50 % mark, 20 s after the last line
        " 23/40 items (58%)",  # 30 s after that one
        " 26/40 items (65%)",
        " 29/40 items (72%)",
        " stopped",
    ]
    assert lines[-1] == "train: stopped, 30/40 items in 300 s"


def test_updates_from_several_threads_all_count() -> None:
    bar = Progress(4000, "pairs", bar=False)
    workers = [
        threading.Thread(target=lambda: [bar.update() for _ in range(1000)]) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    bar.close()
    assert bar.done == 4000


def test_a_terminal_shows_the_bar_and_only_the_log_file_gets_lines(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    log_file = tmp_path / "run.log"
    configure_logging("INFO", log_file)
    try:
        clock = Clock()
        with Progress(20, "tracking s2 binn", "pair", clock=clock) as bar:
            for _ in range(20):
                clock.now += 1.0
                bar.update()
        logging.getLogger("binn").info("an ordinary line")
    finally:
        for handler in logging.getLogger().handlers:
            handler.flush()
        configure_logging("INFO")  # close the file, back to stderr
    shown = terminal.getvalue()
    assert "tracking s2 binn: 100%" in shown and "20/20" in shown  # tqdm's bar
    assert "pairs (" not in shown  # no progress lines under the bar
    assert "an ordinary line" in shown
    logged = log_file.read_text()
    assert "tracking s2 binn: 10/20 pairs (50%)" in logged
    assert "tracking s2 binn: done, 20/20 pairs in 20 s" in logged


def test_no_terminal_no_bar_and_lines_on_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()  # a log file or a batch job's stderr
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("INFO")
    try:
        clock = Clock()
        with Progress(10, "tracking s3 ffd", "pair", clock=clock) as bar:
            for _ in range(10):
                clock.now += 1.0
                bar.update()
    finally:
        configure_logging("INFO")
    text = stream.getvalue()
    assert "it/s" not in text and "|" not in text  # no bar
    assert "tracking s3 ffd: 5/10 pairs (50%), 5 s elapsed, about 5 s left" in text


def test_bad_total_is_refused() -> None:
    with pytest.raises(ValueError, match="total must be >= 0"):
        Progress(-1, "x", bar=False)
