"""Stage configuration: which AWS account, region and resource names each stage (dev, staging, prod, rdev) uses.

The packaged `stages.toml` holds production's names; a user file named by `CXGM_CONFIG` is merged over it
table by table, so a user only writes what differs.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

CONFIG_ENV_VAR = "CXGM_CONFIG"
REFRESH_ENV_VAR = "CXGM_REFRESH_SECONDS"
DEFAULT_REFRESH_SECONDS = 15 * 60
KNOWN_STAGES = ("dev", "staging", "prod", "rdev")
_FIELDS = (
    "profile",
    "region",
    "stack",
    "queue",
    "migration_sfn",
    "ingestion_sfn",
    "migration_log_group",
    "ingestion_log_group",
    "artifact_bucket",
    "portal_url",
)
# Points every stage's portal at another Curation API (e.g. the emulator's), `{stage}` filled per stage, as
# AWS_ENDPOINT_URL points every stage's AWS clients at another endpoint.
PORTAL_URL_ENV_VAR = "CXGM_PORTAL_URL"


class ConfigError(ValueError):
    """A configuration problem, worded so the user knows what to fix."""


@dataclass(frozen=True)
class StageConfig:
    name: str
    profile: str | None
    region: str
    stack: str
    queue: str
    migration_sfn: str
    ingestion_sfn: str
    migration_log_group: str
    ingestion_log_group: str
    artifact_bucket: str
    portal_url: str = ""

    @property
    def portal(self) -> str:
        """The stage's Curation API base URL ($CXGM_PORTAL_URL over `portal_url`); "" means not read."""
        override = os.environ.get(PORTAL_URL_ENV_VAR, "").strip()
        url = override.format(stage=self.name, stack=self.stack) if override else self.portal_url
        return url.rstrip("/")


@dataclass(frozen=True)
class CxgmConfig:
    source: str
    stages: dict[str, StageConfig]

    def stage(self, name: str) -> StageConfig:
        try:
            return self.stages[name]
        except KeyError:
            raise ConfigError(
                f"unknown stage {name!r}: configured stages are {', '.join(self.stages)} "
                f"(from {self.source}); add a [stages.{name}] table to the file named by {CONFIG_ENV_VAR}"
            ) from None

    @property
    def stage_names(self) -> list[str]:
        return list(self.stages)


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"{CONFIG_ENV_VAR} names {path}, which is not a file: fix the path or unset {CONFIG_ENV_VAR}")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def packaged_config_path(name: str) -> Path:
    """Path of a TOML file shipped in the package (`stages.toml`, `emulator.toml`)."""
    return Path(str(resources.files("cxgm_pipeline") / name))


def _build_stage(name: str, table: dict, defaults: dict, source: str) -> StageConfig:
    if name not in KNOWN_STAGES:
        raise ConfigError(f"stage {name!r} in {source} is not one of {', '.join(KNOWN_STAGES)}")
    values = {**defaults, **table}
    unknown = set(values) - set(_FIELDS)
    if unknown:
        raise ConfigError(f"[stages.{name}] in {source} has unknown keys {sorted(unknown)}; known: {', '.join(_FIELDS)}")
    missing = [f for f in _FIELDS if f not in values]
    if missing:
        raise ConfigError(f"[stages.{name}] in {source} is missing {', '.join(missing)}")
    fmt = {"stage": name, "stack": values["stack"]}
    resolved = {k: str(v).format(**fmt) for k, v in values.items()}
    resolved["profile"] = resolved["profile"] or None
    return StageConfig(name=name, **resolved)


def load_config(path: str | os.PathLike | None = None) -> CxgmConfig:
    """Packaged defaults merged with `path` (or `$CXGM_CONFIG`); raises ConfigError with what to fix."""
    data = tomllib.loads(packaged_config_path("stages.toml").read_text())
    user_path = path or os.environ.get(CONFIG_ENV_VAR)
    source = "packaged stages.toml"
    if user_path:
        data = _merge(data, _read_toml(Path(user_path)))
        source = f"packaged stages.toml + {user_path}"
    defaults = data.get("defaults", {})
    stages = {name: _build_stage(name, table, defaults, source) for name, table in data.get("stages", {}).items()}
    if not stages:
        raise ConfigError(f"no [stages.*] table in {source}")
    return CxgmConfig(source=source, stages=stages)


@lru_cache(maxsize=8)
def _cached(path: str | None) -> CxgmConfig:
    return load_config(path)


def config_at(path: str | None = None) -> CxgmConfig:
    """The configuration from `path`, else `$CXGM_CONFIG`: read once per process and path."""
    return _cached(str(path) if path else os.environ.get(CONFIG_ENV_VAR))


def get_config() -> CxgmConfig:
    """The configuration for the current `$CXGM_CONFIG` (cached per value)."""
    return config_at(None)


def refresh_seconds() -> int:
    """How often a running attempt is refreshed; also how long stored frames of a running attempt stay fresh."""
    return int(env_number(REFRESH_ENV_VAR, DEFAULT_REFRESH_SECONDS, "a whole number of seconds, e.g. 900", minimum=1,
                          integer=True))


SENSOR_ENV_VAR = "CXGM_SENSOR_SECONDS"
DEFAULT_SENSOR_SECONDS = 30


def sensor_seconds() -> int:
    """How often the sensors look at AWS (Dagster's minimum_interval_seconds): 30 s; tests and `make prod-check`
    set fewer to finish sooner."""
    return int(env_number(SENSOR_ENV_VAR, DEFAULT_SENSOR_SECONDS, "a whole number of seconds, e.g. 30", minimum=1,
                          integer=True))


DIGEST_ENV_VAR = "CXGM_DIGEST_SECONDS"
DEFAULT_DIGEST_SECONDS = 600


def digest_seconds() -> int:
    """At most one alert digest per attempt in this many seconds (the finished alert goes at once): a run's first
    minutes find a new cause at every refresh, and a digest each would flood the channel."""
    return int(env_number(DIGEST_ENV_VAR, DEFAULT_DIGEST_SECONDS, "a whole number of seconds, e.g. 600", minimum=0,
                          integer=True))


MAX_FAILURE_RATE_VAR = "CXGM_MAX_FAILURE_RATE"
DEFAULT_MAX_FAILURE_RATE = 0.10


def max_failure_rate() -> float:
    """The failure-rate threshold of the check and the alert."""
    return env_number(MAX_FAILURE_RATE_VAR, DEFAULT_MAX_FAILURE_RATE, "a share between 0 and 1, e.g. 0.10", 0.0, 1.0)


def env_number(name: str, default: float, form: str, minimum: float | None = None, maximum: float | None = None,
               integer: bool = False) -> float:
    """A number from the environment, or a ConfigError naming the variable and the form it wants."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not {form}") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ConfigError(f"{name}={raw!r} is out of range: expected {form}")
    return value
