"""`cxgm` invoked in-process with a given environment, as the CLI tests of every variant run it."""

from __future__ import annotations

from typer.testing import CliRunner

from cxgm_pipeline.cli import app

runner = CliRunner()


def run(env: dict, *args: str, columns: int = 160) -> tuple[int, str]:
    """(exit code, output); an exception other than a usage or an expected failure (codes 0-2) is appended."""
    result = runner.invoke(app, list(args), env={**env, "COLUMNS": str(columns)}, catch_exceptions=True)
    return result.exit_code, result.output + (repr(result.exception) if result.exception and result.exit_code not in (0, 1, 2) else "")
