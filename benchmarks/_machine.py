"""Helpers shared by the benchmark scripts: machine description and results.md sections."""

from __future__ import annotations

import os
import platform
from datetime import date
from pathlib import Path


def machine_line() -> str:
    """One line naming the machine the figures were measured on."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy

    return (f"Measured {date.today().isoformat()} on {os.cpu_count()} cores ({cpu}), "
            f"Python {platform.python_version()}, numpy {numpy.__version__}.")


BUDGET_HEADER = "| measure | value | budget | within |\n|---|---|---|---|"


def budget_row(label: str, value: float, budget, fmt: str = ".2f", above: bool = False) -> str:
    """One row of a budget table: the value, its budget and whether it is within it."""
    if budget is None or budget == "":
        return f"| {label} | {value:{fmt}} | | |"
    within = value >= budget if above else value <= budget
    return f"| {label} | {value:{fmt}} | {budget:g} | {'yes' if within else 'NO'} |"


def replace_section(path: Path, name: str, text: str) -> None:
    """Replace the ``<!-- name:start -->``...``<!-- name:end -->`` section of ``path``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    body = path.read_text() if path.exists() else "# Benchmark results\n\n"
    block = f"{start}\n{text}\n{end}"
    if start in body and end in body:
        head, rest = body.split(start, 1)
        body = head + block + rest.split(end, 1)[1]
    else:
        body = body.rstrip("\n") + "\n\n" + block + "\n"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(body)
    tmp.replace(path)
