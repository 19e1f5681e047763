"""Partitions: stage (the configured stages) x attempt (dynamic, added by the discovery sensor).

Dagster shares one set of attempt keys across stages. An attempt key is a migration campaign (the
`migration_attempt` of its execution input, e.g. ATTEMPT_2, rehearsed in dev then run in prod) or an untagged
attempt's start minute; a (stage, attempt) cell where that attempt never ran materializes as explicit empty frames.
"""

from dagster import DynamicPartitionsDefinition, MultiPartitionKey, MultiPartitionsDefinition, StaticPartitionsDefinition

from cxgm_pipeline.config import get_config
from cxgm_pipeline.monitor.attempts.ref import AttemptRef

ATTEMPTS = "attempt"
attempt_partitions = DynamicPartitionsDefinition(name=ATTEMPTS)
stage_partitions = StaticPartitionsDefinition(get_config().stage_names)
migration_partitions = MultiPartitionsDefinition({"stage": stage_partitions, "attempt": attempt_partitions})


def partition_key(ref: AttemptRef) -> MultiPartitionKey:
    return MultiPartitionKey({"stage": ref.stage, "attempt": ref.key})
