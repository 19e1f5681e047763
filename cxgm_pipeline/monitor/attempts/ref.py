"""One name for an attempt in one stage, in the three spellings cxgm meets it: the CLI's `stage:key`,
Dagster's partition key `key|stage` (dimensions sort by name), and the store's `<stage>/<key>` path."""

from __future__ import annotations

from dataclasses import dataclass

LATEST = "latest"  # in a `stage:latest` spec: the stage's most recent attempt (with a stored rollup, for compare)


@dataclass(frozen=True, order=True)
class AttemptRef:
    stage: str
    key: str

    @classmethod
    def parse(cls, spec: str) -> "AttemptRef":
        """`dev:ATTEMPT_2` or `dev:latest`."""
        stage, sep, key = str(spec).partition(":")
        if not sep or not stage or not key:
            raise ValueError(f"{spec!r}: expected STAGE:ATTEMPT or STAGE:latest, e.g. dev:ATTEMPT_2")
        return cls(stage, key)

    @classmethod
    def from_partition_key(cls, partition_key) -> "AttemptRef":
        """Dagster's `MultiPartitionKey` (a str) or its string form `<attempt>|<stage>`."""
        dims = getattr(partition_key, "keys_by_dimension", None)
        if dims:
            return cls(dims["stage"], dims["attempt"])
        key, sep, stage = str(partition_key).partition("|")
        if not sep:
            raise ValueError(f"{partition_key!r} is not a stage x attempt partition key ('<attempt>|<stage>')")
        return cls(stage, key)

    @property
    def partition_key(self) -> str:
        return f"{self.key}|{self.stage}"

    @property
    def is_latest(self) -> bool:
        return self.key == LATEST

    def __str__(self) -> str:
        return f"{self.stage}:{self.key}"

    @property
    def label(self) -> str:
        """How messages name it: `prod/ATTEMPT_2` (as the store's path does)."""
        return f"{self.stage}/{self.key}"
