"""Progress lines: one overwritten line on a terminal, one line per step in a log."""

from __future__ import annotations

import io

from connector.progress import Progress


def feed(progress: Progress, messages: list[str]) -> None:
    for message in messages:
        progress(message)
    progress.done()


PULLS = ["pull Order: 2,000", "pull Order: 4,000", "pull Order: 4,100", "pull Lead: 10"]


def test_a_log_gets_the_last_message_of_each_step_on_its_own_line() -> None:
    out = io.StringIO()
    feed(Progress(out, tty=False, clock=lambda: 0.0), PULLS)
    assert out.getvalue() == "pull Order: 4,100\npull Lead: 10\n"


def test_a_long_step_in_a_log_says_something_every_interval() -> None:
    out = io.StringIO()
    now = [0.0]
    progress = Progress(out, tty=False, interval=10.0, clock=lambda: now[0])
    for message, at in zip(PULLS, [1.0, 11.0, 12.0, 13.0], strict=True):
        now[0] = at
        progress(message)
    progress.done()
    assert out.getvalue() == "pull Order: 4,000\npull Order: 4,100\npull Lead: 10\n"


def test_a_terminal_line_is_overwritten_then_cleared() -> None:
    out = io.StringIO()
    feed(Progress(out, tty=True), PULLS[:2])
    text = out.getvalue()
    assert "\n" not in text
    assert text.count("\r") == 4  # one per message, two to blank the line
    assert text.endswith("\r")
    assert text.rstrip("\r ").endswith("pull Order: 4,000")  # the last message, then blanked


def test_done_with_nothing_said_prints_nothing() -> None:
    for tty in (True, False):
        out = io.StringIO()
        Progress(out, tty=tty).done()
        assert out.getvalue() == ""
