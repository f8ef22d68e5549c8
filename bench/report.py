"""The benchmark's answer: one row per figure (its reference from the same run, the ratio, the goal, met or
not), printed as one table and written as JSON under var/bench/."""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import system

RESULTS_DIR = Path(__file__).resolve().parents[1] / "var" / "bench"


@dataclass(frozen=True)
class Row:
    """One figure. `met` is None for a figure shown for information (no goal of its own)."""

    goal: str
    what: str
    figure: str
    reference: str
    ratio: str
    target: str
    met: bool | None
    values: dict[str, Any] = field(default_factory=dict)


def ms(value: float) -> str:
    return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"


def per_second(value: float) -> str:
    return f"{value:,.0f} req/s"


def seconds(value: float) -> str:
    return f"{value:,.2f} s" if value < 10 else f"{value:,.1f} s"


def mb(value: float) -> str:
    return f"{value:,.0f} MB"


def percent(value: float) -> str:
    return f"{value * 100:,.0f} %"


def _verdict(met: bool | None) -> str:
    return "—" if met is None else ("met" if met else "NOT met")


def render(rows: list[Row]) -> str:
    """A Markdown table (readable on a terminal and pasteable into the README)."""
    header = ("goal", "what", "figure", "reference (same run)", "ratio", "target", "")
    lines = [[*header], ["---"] * len(header)]
    lines += [[r.goal, r.what, r.figure, r.reference, r.ratio, r.target, _verdict(r.met)] for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for line in lines:
        cells = [("-" * widths[i]) if cell == "---" else cell.ljust(widths[i]) for i, cell in enumerate(line)]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def _git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=RESULTS_DIR.parents[1],
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def write_json(rows: list[Row], details: dict[str, Any], started: datetime, load_before: tuple[float, ...]) -> Path:
    """var/bench/bench-<time>.json and var/bench/latest.json."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    finished = datetime.now(UTC)
    document = {
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "seconds": round((finished - started).total_seconds(), 1),
        "commit": _git_commit(),
        "cores": system.cores(),
        "load_average_before": load_before,
        "load_average_after": system.load_average(),
        "rows": [asdict(r) for r in rows],
        "details": details,
    }
    path = RESULTS_DIR / f"bench-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    text = json.dumps(document, indent=2, default=str)
    path.write_text(text)
    (RESULTS_DIR / "latest.json").write_text(text)
    return path
