"""Root of the `cxgm` command."""

import typer

from cxgm_pipeline.cli.attempts import attempts
from cxgm_pipeline.cli.bundle import export, import_
from cxgm_pipeline.cli.classify import classify
from cxgm_pipeline.cli.compare import compare
from cxgm_pipeline.cli.describe import describe
from cxgm_pipeline.cli.plot import plot
from cxgm_pipeline.cli.report import report, rerun

app = typer.Typer(name="cxgm", help="Watch a CELLxGENE schema migration while it runs.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
app.command()(attempts)
app.command()(describe)
app.command()(plot)
app.command()(compare)
app.command()(report)
app.command()(rerun)
app.command()(classify)
app.command()(export)
app.command(name="import")(import_)
