"""pandera schemas of every DataFrame that crosses an asset boundary."""

from cxgm_pipeline.schemas.frames import (
    CollectionRollup,
    DatasetRollup,
    DurationDeltas,
    EnrichedJobs,
    ErrorSignatures,
    MigrationJobs,
    SfnExecutions,
    empty_frame,
    validate,
)

__all__ = [
    "CollectionRollup",
    "DatasetRollup",
    "DurationDeltas",
    "EnrichedJobs",
    "ErrorSignatures",
    "MigrationJobs",
    "SfnExecutions",
    "empty_frame",
    "validate",
]
