"""`cxgm doctor`: before the first materialization, can cxgm see this stage's account?"""

import typer

from cxgm_pipeline.cli.common import ENV, console, guarded

STYLE = {"OK": "green", "WARN": "yellow", "FAIL": "red"}


@guarded
def doctor(env: str = ENV) -> None:
    """Check the stage's credentials, region, clock, every configured name (state machines, queue, log groups,
    artifact bucket) and every read-only IAM action cxgm uses: one line each, OK / WARN / FAIL with the fix.
    Exit code 1 on any FAIL."""
    from rich.markup import escape

    from cxgm_pipeline.config import get_config
    from cxgm_pipeline.monitor.aws.doctor import diagnose

    get_config().stage(env)  # an unknown stage or a broken CXGM_CONFIG is a usage error (exit 2), said in one line
    with console.status(f"checking {env}"):
        found = diagnose(env)
    width = max(len(c.what) for c in found.checks)
    for c in found.checks:
        line = f"[{STYLE[c.status]}]{c.status:<4}[/] {escape(c.what):<{width}}  {escape(c.detail)}"
        if c.fix:
            line += f"\n     {'':<{width}}  [bold]fix:[/] {escape(c.fix)}"
        console.print(line, highlight=False, soft_wrap=True)
    failed, warned = len(found.failed), sum(c.status == "WARN" for c in found.checks)
    if failed:
        console.print(f"[red]{env}: {failed} FAIL, {warned} WARN[/]: fix the lines marked FAIL, then run "
                      f"`cxgm doctor --env {env}` again", soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"[green]{env}: cxgm can read this account[/]" + (f" ({warned} WARN)" if warned else ""))
