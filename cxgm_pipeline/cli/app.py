"""Root of the `cxgm` command: sub-commands register themselves here."""

import typer

from cxgm_pipeline.cli import emulator

app = typer.Typer(name="cxgm", help="Watch a CELLxGENE schema migration while it runs.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
app.add_typer(emulator.app, name="emulator")
