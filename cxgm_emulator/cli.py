"""`cxgm-emulator` (also `python -m cxgm_emulator`): an emulated AWS account with a live migration, on localhost."""

from __future__ import annotations

import signal
import threading
import time
import urllib.error
from datetime import datetime, timezone
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from cxgm_emulator.process import control
from cxgm_emulator.scenarios import SCENARIOS
from cxgm_emulator.throttling import AWS_DEFAULT_QUOTAS, Injection
from portal_shapes import IngestionInput, MapMode

_option_type = typer.core.TyperOption.display_type_rich
# typer 0.29 prints `<bool>` beside a flag (`--at-end <bool>`) as if it took a value: a flag shows none.
typer.core.TyperOption.display_type_rich = lambda self, ctx: None if self.is_flag else _option_type(self, ctx)

app = typer.Typer(name="cxgm-emulator", help="Run and steer the emulated AWS account (moto server on 127.0.0.1).",
                  no_args_is_help=True)
console = Console()
DEFAULT_PORT = 5055


def _control(port: int, path: str, body: dict | None = None, timeout: float = 5.0) -> dict:
    return control(f"http://127.0.0.1:{port}", path, body, timeout)


def _fmt(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M") if ts else "-"


def _status_table(status: dict) -> Table:
    variant = f"  {status['map_mode']} Maps, {status['ingestion_input']} ingestion input" if "map_mode" in status else ""
    table = Table(title=f"emulator at {status['endpoint_url']}  simulated now {_fmt(status['now'])} UTC  "
                        f"speed {status['speed'] or 'paused'}{variant}")
    for column in ("stage", "attempt", "status", "jobs finished", "jobs visible", "planned", "start", "end"):
        table.add_column(column)
    for m in status["migrations"]:
        table.add_row(m["stage"], m["attempt"], m["status"], str(m["jobs_finished"]), str(m["jobs_visible"]),
                      str(m["jobs_planned"]), _fmt(m["start"]), _fmt(m["stop"]))
    return table


@app.command()
def start(
    scenario: str = typer.Option("default", help=f"One of: {', '.join(SCENARIOS)}"),
    seed: int = typer.Option(0, help="Same seed, same migration (ids, timings, failures)"),
    speed: float = typer.Option(60.0, help="Simulated seconds per wall second for the live migration"),
    port: int = typer.Option(DEFAULT_PORT, help="Port on 127.0.0.1"),
    at_end: bool = typer.Option(False, "--at-end", help="Start with every migration already over (clock paused)"),
    at_start: bool = typer.Option(False, "--at-start", help="Start paused just before the live migration (move the "
                                                            "clock with `clock --advance`)"),
    lead: float = typer.Option(90.0, help="Wall seconds before the live migration starts"),
    latency_ms: float = typer.Option(0.0, help="Added latency per AWS call"),
    quotas: bool = typer.Option(False, "--quotas", help="Throttle at AWS's default per-API rates (ThrottlingException)"),
    error_rate: float = typer.Option(0.0, help="Share of calls answered with an injected 5xx"),
    truth: Path | None = typer.Option(None, help="Ground-truth file (default .cxgm/truth-SCENARIO-SEED.json)"),
    env_file: Path | None = typer.Option(None, help="Also write the exports to this file (for `source`)"),
    map_mode: MapMode = typer.Option(MapMode.DISTRIBUTED, "--map-mode", case_sensitive=False,
                                     help="The migration machine's Maps: inline (every task in one history) or "
                                          "distributed (Map Runs with child executions)"),
    ingestion_input: IngestionInput = typer.Option(IngestionInput.NEW, "--ingestion-input", case_sensitive=False,
                                                   help="Ingestion execution input: new (manifest, dataset_version_id, "
                                                        "collection_version_id) or old (url, dataset_id, collection_id)"),
) -> None:
    """Start the emulator; prints the variables to export; Ctrl-C stops it."""
    from cxgm_emulator.server import Emulator, EmulatorOptions

    injection = Injection(latency_ms=latency_ms, quotas=dict(AWS_DEFAULT_QUOTAS) if quotas else {}, error_rate=error_rate)
    clock_mode = "end" if at_end else "start" if at_start else "live"
    options = EmulatorOptions(scenario=scenario, seed=seed, speed=speed, port=port, clock=clock_mode,
                              lead_s=lead, injection=injection, truth_path=truth, map_mode=map_mode.value,
                              ingestion_input=ingestion_input.value)
    # from before it is ready: Ctrl-C (even from a background job, which inherits SIGINT ignored) or SIGTERM stops it
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    began = time.time()
    try:
        emu = Emulator(options).start()
    except OSError as exc:
        console.print(f"[red]cannot listen on 127.0.0.1:{port}: {exc}. Is another emulator running? Try --port.[/]")
        raise typer.Exit(1) from None
    exports = "\n".join(f"export {k}={v}" for k, v in emu.env().items())
    if env_file:
        env_file.parent.mkdir(parents=True, exist_ok=True)
        env_file.write_text(exports + "\n")
    console.print(f"[green]emulated AWS ready[/] in {time.time() - began:.1f}s: scenario {scenario}, seed {seed}, "
                  f"{map_mode.value} Maps, {ingestion_input.value} ingestion input, truth file {emu.truth_path}")
    console.print("Export these in another shell (or `source` the --env-file):")
    console.print(exports, highlight=False)
    console.print(_status_table(emu.status()))
    last = None
    while not stop.wait(5):
        states = [(m["attempt"], m["status"]) for m in emu.status()["migrations"]]
        if states != last:
            console.print(_status_table(emu.status()))
            last = states
    emu.stop()
    console.print("emulator stopped")


@app.command()
def wait(port: int = typer.Option(DEFAULT_PORT), timeout: float = typer.Option(120.0),
         env_file: Path | None = typer.Option(None, help="Also wait for this exports file")) -> None:
    """Wait until an emulator on PORT is ready (for scripts)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            _control(port, "status", timeout=2)
            if env_file is None or env_file.exists():
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    console.print(f"[red]no emulator answered on 127.0.0.1:{port} within {timeout:.0f}s[/]")
    raise typer.Exit(1)


@app.command()
def status(port: int = typer.Option(DEFAULT_PORT)) -> None:
    """How far each emulated migration has got."""
    try:
        console.print(_status_table(_control(port, "status")))
    except urllib.error.URLError:
        console.print(f"[red]no emulator on 127.0.0.1:{port}: start one with `cxgm-emulator start`[/]")
        raise typer.Exit(1) from None


@app.command()
def clock(
    port: int = typer.Option(DEFAULT_PORT),
    advance: float | None = typer.Option(None, help="Move simulated time forward by this many seconds"),
    speed: float | None = typer.Option(None, help="New speed (0 pauses)"),
) -> None:
    """Move or re-pace the simulated clock."""
    body = {k: v for k, v in {"advance": advance, "speed": speed}.items() if v is not None}
    if not body:
        console.print("nothing to do: give --advance or --speed")
        raise typer.Exit(2)
    console.print(_status_table(_control(port, "clock", body)))


@app.command()
def access(
    port: int = typer.Option(DEFAULT_PORT),
    deny: list[str] = typer.Option([], "--deny", help="Refuse this IAM action (e.g. batch:ListJobs), as AWS does"),
    allow: list[str] = typer.Option([], "--allow", help="Stop refusing this action"),
    expired: bool | None = typer.Option(None, "--expired/--valid", help="Answer every call as with expired credentials"),
    clear: bool = typer.Option(False, "--clear", help="Forget every staged refusal first"),
) -> None:
    """Stage access failures (denied actions, expired credentials) for `cxgm doctor` to find."""
    body: dict = {"deny": deny, "allow": allow, "clear": clear}
    if expired is not None:
        body["expired"] = expired
    console.print(_control(port, "access", body))
