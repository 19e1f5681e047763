"""The `cxgm` command line: the same code as the Dagster assets, for a terminal in the middle of the night."""

from cxgm_pipeline.cli.app import app

__all__ = ["app"]
