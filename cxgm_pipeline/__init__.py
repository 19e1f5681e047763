"""cxgm: watch a CELLxGENE schema migration while it runs (Dagster assets, sensors, CLI, emulator)."""

__version__ = "0.1.0"
