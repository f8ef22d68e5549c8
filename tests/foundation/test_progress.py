"""The on-demand commands' progress: a bar redrawn in place on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io

from app.progress import ProgressReporter


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    progress = ProgressReporter("refresh-insights", out)
    progress(1, 3, "post 7: ok")
    progress(3, 3, "post 9: ok")
    progress.close()
    assert out.getvalue() == "refresh-insights: [1/3] post 7: ok\nrefresh-insights: [3/3] post 9: ok\n"


def test_a_bar_on_a_terminal() -> None:
    out = _Terminal()
    progress = ProgressReporter("rotate-keys", out)
    progress(1, 4, "account 1")
    progress(4, 4, "account 4")
    progress.close()
    text = out.getvalue()
    frames = text.split("\r")[1:]
    assert len(frames) == 2
    assert frames[0].startswith("rotate-keys [" + "#" * 6 + "-" * 18 + "] 1/4  25%  account 1")
    assert frames[1].startswith("rotate-keys [" + "#" * 24 + "] 4/4 100%  account 4")
    # Every frame is as wide as the one before (so a shorter one leaves nothing behind) and one line.
    assert len(frames[0]) == len(frames[1].rstrip("\n"))
    assert "\n" not in frames[0]
    assert text.endswith("\n")


def test_nothing_to_report_leaves_the_terminal_alone() -> None:
    out = _Terminal()
    ProgressReporter("refresh-tokens", out).close()
    assert out.getvalue() == ""
