"""Root of the `cxgm` command."""

import typer
from typer.core import TyperOption

from cxgm_pipeline.cli.attempts import attempts
from cxgm_pipeline.cli.bundle import export, import_
from cxgm_pipeline.cli.classify import classify
from cxgm_pipeline.cli.compare import compare
from cxgm_pipeline.cli.describe import describe
from cxgm_pipeline.cli.doctor import doctor
from cxgm_pipeline.cli.plot import plot
from cxgm_pipeline.cli.report import report, rerun

_option_type = TyperOption.display_type_rich


def _flag_has_no_type(self: TyperOption, ctx) -> str | None:
    """typer 0.29 prints `<bool>` beside a flag (`--refresh <bool>`) as if it took a value: a flag shows none."""
    return None if self.is_flag else _option_type(self, ctx)


TyperOption.display_type_rich = _flag_has_no_type

app = typer.Typer(name="cxgm", help="Watch a CELLxGENE schema migration while it runs.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
app.command()(doctor)
app.command()(attempts)
app.command()(describe)
app.command()(plot)
app.command()(compare)
app.command()(report)
app.command()(rerun)
app.command()(classify)
app.command()(export)
app.command(name="import")(import_)
