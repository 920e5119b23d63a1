"""Helpers shared by the data-safety tests: file hashes, CLI runs, one-line checks."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mindpain.cli import main


def hashes(root: Path) -> dict:
    """Return ``{relative path: sha256}`` of every file under ``root`` (dotfiles included)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def run_cli(argv, capsys) -> tuple[int, str, str]:
    """Run ``mindpain ARGV`` in-process; return ``(exit status, stdout, stripped stderr)``."""
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def one_line(err: str) -> str:
    """Assert ``err`` is one line without a traceback; return it."""
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err
