"""What every `cxgm` command shares: stage/attempt options, progress bars, output files, actionable errors.

Exit codes: 0 ok, 1 failure (AWS, files), 2 usage (unknown stage or attempt, bad options).
"""

from __future__ import annotations

import contextlib
import functools
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cxgm_pipeline.config import ConfigError

if TYPE_CHECKING:  # imported when a command runs, not for `--help`
    import pandas as pd

    from cxgm_pipeline.monitor.session import AttemptFrames

# The chain's code (pandas, pandera, boto3) is imported when a command runs, not for `--help`.

PIPED_WIDTH = 10_000  # wider than any row: a table piped or redirected is as wide as its values
RULE_WIDTH = 100  # a rule is a heading: it need not span PIPED_WIDTH


class _Stdout(Console):
    """On a terminal, its width; piped or redirected (`| less`, `> file`), $COLUMNS if set, else no limit: values
    stay whole on their row, for grep and for a reader of the file. Rich would take the width of whichever of
    stdin and stderr is a terminal (or 80), folding ids and causes in a pipe's output."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._width = kwargs.get("width")  # $COLUMNS is read when printing, not frozen at import

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self.is_terminal or self._width is not None:
            return size
        columns = self._environ.get("COLUMNS", "")
        return ConsoleDimensions(int(columns) if columns.isdigit() else PIPED_WIDTH, size.height)

    def rule(self, title="", **kwargs) -> None:
        if self.is_terminal:
            return super().rule(title, **kwargs)
        from rich.rule import Rule

        self.print(Rule(title, **kwargs), width=min(self.width, max(RULE_WIDTH, len(str(title)) + 8)))


console = _Stdout()
err = Console(stderr=True, soft_wrap=True)  # messages stay one line: paths can be copied

ENV = typer.Option(None, "--env", "-e", help="Stage: dev, staging, prod or rdev (see stages.toml). Default: the "
                   "stage where the newest migration runs now, said on stderr; none runs: name one")
TAG = typer.Option(None, "--tag", "-t", help="Attempt key as listed by `cxgm attempts`, e.g. ATTEMPT_2")
START = typer.Option(None, help="Window start (ISO 8601, UTC if no zone), instead of --tag")
END = typer.Option(None, help="Window end (ISO 8601)")
REFRESH = typer.Option(False, "--refresh", help="Fetch from AWS even if Dagster's frames are fresh")
FRAME_SUFFIXES = (".csv", ".parquet", ".json")


class UsageError(Exception):
    """Bad input from the user: exit 2 with the message."""


def _spans_stages(kwargs: dict) -> bool:
    """`describe dataset ID` without --env and --tag follows the dataset through every stored attempt."""
    what = kwargs.get("what")
    return str(getattr(what, "value", what)) == "dataset" and not kwargs.get("tag")


RUNNING_LOOKBACK_DAYS = 60  # a running migration started within this many days (they take days, not months)


def newest_migrations(stages: list[str]) -> tuple[tuple | None, tuple | None]:
    """(stage, start, execution name) of the newest migration running now and of the newest that ran within the
    lookback, each None when there is none; a stage this machine cannot read is passed over."""
    import time

    from cxgm_pipeline.monitor.aws.clients import AwsAccessError, StepFunctions

    sfn, running, newest = StepFunctions(), None, None
    for stage in stages:
        try:
            executions = sfn.list_executions(stage, sfn.stage_config(stage).migration_sfn,
                                             stop_before=time.time() - RUNNING_LOOKBACK_DAYS * 86400) or []
        except (AwsAccessError, ConfigError):  # a stage this machine cannot read runs nothing it could show
            continue
        for ex in executions:
            if newest is None or ex["startDate"] > newest[1]:
                newest = (stage, ex["startDate"], ex["name"])
            if ex["status"] == "RUNNING" and (running is None or ex["startDate"] > running[1]):
                running = (stage, ex["startDate"], ex["name"])
    return running, newest


def running_stage() -> str:
    """The stage of the newest migration running now (else of the newest that ran, within the lookback), said on
    stderr; a UsageError when none ran. A silent default of `dev` showed dev to someone asking about a prod
    attempt of the same key."""
    from cxgm_pipeline.config import get_config

    stages = get_config().stage_names
    running, newest = newest_migrations(stages)
    if running is not None:
        stage, start, name = running
        err.print(f"--env not given: {stage}, where the newest running migration is ({name}, started "
                  f"{start:%Y-%m-%d %H:%M} UTC)")
        return stage
    if newest is None:
        raise UsageError(f"--env not given and no migration ran in the last {RUNNING_LOOKBACK_DAYS} days: name a "
                         f"stage with --env ({', '.join(stages)})")
    stage, start, name = newest
    err.print(f"--env not given and none runs now: {stage}, where the newest migration ran ({name}, started "
              f"{start:%Y-%m-%d %H:%M} UTC); --env names another")
    return stage


def guarded(fn):
    """Turns the errors a user can act on into one clear line and the right exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            if "env" in kwargs and kwargs["env"] is None and not _spans_stages(kwargs):
                kwargs["env"] = running_stage()
            return fn(*args, **kwargs)
        except (ConfigError, UsageError, ValueError) as exc:
            err.print(f"[red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from None
        except OSError as exc:
            err.print(f"[red]error:[/] {escape(str(exc))}")
            raise typer.Exit(1) from None
        except Exception as exc:
            from cxgm_pipeline.monitor.attempts.listing import AttemptNotFound
            from cxgm_pipeline.monitor.aws.clients import AwsAccessError
            from cxgm_pipeline.monitor.session import UnexpectedShape

            if isinstance(exc, AttemptNotFound):
                err.print(f"[red]error:[/] {escape(str(exc))}")
                raise typer.Exit(2) from None
            if isinstance(exc, AwsAccessError):
                err.print(f"[red]AWS:[/] {escape(str(exc))}")
                raise typer.Exit(1) from None
            if isinstance(exc, UnexpectedShape):
                err.print(f"[red]error:[/] {escape(str(exc))}")
                raise typer.Exit(1) from None
            raise

    return wrapper


def parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{value!r} is not an ISO 8601 time, e.g. 2026-11-20T08:00") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@contextlib.contextmanager
def progress(label: str, summary: bool = True):
    """A rich progress line showing AWS calls made and items fetched; yields the FetchStats to feed. `summary`:
    say at the end how many calls it took (off when the caller says it better)."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.fields[calls]} calls"),
                  TextColumn("{task.fields[items]} items"), TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task(label, calls=0, items=0)
        from cxgm_pipeline.monitor.aws.clients import FetchStats

        stats = FetchStats(on_change=lambda s: bar.update(task, calls=s.calls, items=s.items))
        yield stats
    if summary:
        err.print(f"{label}: {stats.calls} AWS calls, {stats.items} items")


def _calls(n: int) -> str:
    return f"{n} AWS call" + ("" if n == 1 else "s")


def load_frames(env: str, tag: str | None, start: str | None, end: str | None, refresh: bool,
                wanted: tuple[str, ...] | None = None) -> AttemptFrames:
    """The attempt's frames, and one line saying where they came from and what it cost."""
    from cxgm_pipeline.monitor.session import FRAMES, MonitorSession

    with progress(f"reading {env}/{tag or 'window'}", summary=False) as stats:
        session = MonitorSession(stats=stats)
        result = session.frames(env, tag, parse_time(start), parse_time(end), refresh, wanted or FRAMES)
    where = f"{env}/{result.key}"
    if result.source == "stored":
        stamps = [session.store.modified(n, env, result.key) for n in (wanted or FRAMES)]
        when = datetime.fromtimestamp(min(s for s in stamps if s), tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        if refresh:  # an ended attempt whose frames saw its end: nothing left to read
            err.print(f"[green]{where}: the frames stored at {when}, final[/] (the attempt ended before they were "
                      f"read; {_calls(stats.calls)} to check it has not run again)")
        else:
            err.print(f"[green]{where}: the frames stored at {when}[/] ({_calls(stats.calls)} to check they are "
                      f"fresh); --refresh reads what changed since")
    elif result.source == "imported":
        err.print(f"[green]{where}: the imported bundle[/] (no AWS call); --refresh reads AWS instead")
    elif result.source == "refreshed":
        err.print(f"{where}: refreshed from AWS, {_calls(stats.calls)}, {stats.items} items (starting from the "
                  f"stored frames)")
    else:
        err.print(f"{where}: fetched from AWS, {_calls(stats.calls)}, {stats.items} items")
    return result


def check_output(path: Path, suffixes: tuple[str, ...]) -> None:
    if path.suffix.lower() not in suffixes and "".join(path.suffixes).lower() not in suffixes:
        raise UsageError(f"{path}: the extension says the format; use one of {', '.join(suffixes)}")
    parent = path.resolve().parent
    if not parent.exists():
        raise UsageError(f"{path}: folder {parent} does not exist")


def write_frame(df: "pd.DataFrame", path: Path) -> None:
    check_output(path, FRAME_SUFFIXES)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        df.to_csv(path, index=False)
    elif suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_json(path, orient="records", date_format="iso", indent=1)
    err.print(f"wrote {len(df)} rows to {path}")


ID_CHARS = 8


def _cell(column: str, value, short_ids: bool = True) -> str:
    """Table rendering: times to the minute, seconds rounded, ids shortened on a terminal (a pipe keeps them
    whole, for grep); files keep full values."""
    import pandas as pd

    if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:,.0f}" if column.endswith("_s") else f"{value:g}"
    text = str(value)
    if short_ids and column.endswith("_id") and len(text) > ID_CHARS:
        return text[:ID_CHARS]
    return escape(text)  # "uns[suspension_type_colors]" is data, not rich markup


ALL_ROWS = "--out FILE.csv"


def show_table(df: "pd.DataFrame", title: str, columns: list[str] | None = None, limit: int = 50,
               all_rows: str | None = ALL_ROWS) -> None:
    """`limit` rows of `df`; a longer frame says how many are shown and how to get them all (`all_rows`: the
    command's option that does, None when none does): 50 rows with no word of the rest read as the whole list."""
    if df.empty:
        console.print(f"{title}: no rows")
        return
    shown = df[[c for c in columns if c in df.columns]] if columns else df  # frames an older cxgm stored lack new ones
    if len(df) > limit:
        count = f"{limit} of {len(df)} rows shown" + (f"; all: {all_rows}" if all_rows else "")
    else:
        count = f"{len(df)} rows"
    short = console.is_terminal
    table = Table(title=f"{title} ({count}{'; ids shortened, --out for full values' if short else ''})")
    for column in shown.columns:
        table.add_column(str(column), overflow="fold")
    for row in shown.head(limit).itertuples(index=False):
        table.add_row(*[_cell(c, v, short) for c, v in zip(shown.columns, row)])
    console.print(table)
