"""The emulated account's resource names per stage, read from `emulator.toml` (the emulator owns its account)."""

from __future__ import annotations

import tomllib
from dataclasses import make_dataclass
from importlib import resources
from pathlib import Path


# One stage's resource names (the emulator's own statement of them; cxgm reads the same file as its config).
StageNames = make_dataclass("StageNames", ["name", "region", "stack", "queue", "migration_sfn", "ingestion_sfn",
                                           "migration_log_group", "ingestion_log_group", "artifact_bucket"], frozen=True)


def config_path() -> Path:
    return Path(str(resources.files("cxgm_emulator") / "emulator.toml"))


def load_stages(path: Path | None = None) -> dict[str, StageNames]:
    data = tomllib.loads((path or config_path()).read_text())
    defaults = data.get("defaults", {})
    stages = {}
    for name, table in data["stages"].items():
        values = {**defaults, **table}
        fmt = {"stage": name, "stack": values["stack"]}
        values = {k: str(v).format(**fmt) for k, v in values.items() if k not in ("profile", "portal_url")}
        stages[name] = StageNames(name=name, **values)
    return stages
