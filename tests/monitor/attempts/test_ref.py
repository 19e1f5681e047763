"""One attempt reference, three spellings: the CLI's stage:key, Dagster's key|stage, messages' stage/key."""

import pytest
from dagster import MultiPartitionKey

from cxgm_pipeline.monitor.attempts.ref import AttemptRef
from cxgm_pipeline.partitions import partition_key


def test_round_trips_between_cli_partition_and_label():
    ref = AttemptRef.parse("prod:ATTEMPT_2")
    assert (ref.stage, ref.key, str(ref), ref.label, ref.partition_key) == (
        "prod", "ATTEMPT_2", "prod:ATTEMPT_2", "prod/ATTEMPT_2", "ATTEMPT_2|prod")
    assert AttemptRef.from_partition_key(partition_key(ref)) == ref
    assert AttemptRef.from_partition_key(MultiPartitionKey({"stage": "dev", "attempt": "k"})) == AttemptRef("dev", "k")
    assert AttemptRef.from_partition_key("untagged-20261114T0141|dev") == AttemptRef("dev", "untagged-20261114T0141")
    assert AttemptRef.parse("dev:latest").is_latest


@pytest.mark.parametrize("bad", ["prod", "prod:", ":ATTEMPT_2"])
def test_a_malformed_spec_says_what_is_expected(bad):
    with pytest.raises(ValueError, match="expected STAGE:ATTEMPT"):
        AttemptRef.parse(bad)
