"""Stage progress goes to stderr only, on request or at a terminal; stdout stays for machines."""

from __future__ import annotations

import io
from pathlib import Path

from click.testing import CliRunner

from audit.cli import cli
from audit.progress import Progress

HANDMADE = Path(__file__).parent / "data" / "handmade"


def _run(tmp_path: Path, *flags: str) -> tuple[str, str]:
    args = [
        "run",
        "--from-export",
        str(HANDMADE),
        "--no-verified-domains",
        "--out",
        str(tmp_path / "out"),
    ]
    args += flags
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


def test_progress_lines_go_to_stderr(tmp_path: Path) -> None:
    stdout, stderr = _run(tmp_path, "--progress", "--quiet")
    assert stdout.strip() == str(tmp_path / "out")  # --quiet output unchanged
    lines = stderr.splitlines()
    assert "collecting …" in lines
    assert any(line.startswith("analysing: ") and "10 guests" in line for line in lines)
    assert any(line.startswith("writing reports to ") for line in lines)


def test_no_progress_when_not_a_terminal(tmp_path: Path) -> None:
    _, stderr = _run(tmp_path)
    assert "collecting" not in stderr


def test_a_failing_stage_prints_no_end_line() -> None:
    stream = io.StringIO()
    progress = Progress(True, stream=stream)
    try:
        with progress.stage("collecting"):
            raise ValueError("boom")
    except ValueError:
        pass
    assert stream.getvalue() == "collecting …\n"
