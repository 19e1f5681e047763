"""pandera schemas of every DataFrame that crosses an asset boundary."""

from cxgm_pipeline.schemas.frames import (
    AttemptStates,
    ChildFailures,
    RerunManifest,
    SentAlerts,
    CollectionRollup,
    DatasetRollup,
    DurationDeltas,
    EnrichedJobs,
    ErrorSignatures,
    MigrationJobs,
    OutputRecords,
    PortalState,
    SfnExecutions,
    StepOutputs,
    empty_frame,
    validate,
)

__all__ = [
    "AttemptStates",
    "ChildFailures",
    "RerunManifest",
    "SentAlerts",
    "CollectionRollup",
    "DatasetRollup",
    "DurationDeltas",
    "EnrichedJobs",
    "ErrorSignatures",
    "MigrationJobs",
    "OutputRecords",
    "PortalState",
    "SfnExecutions",
    "StepOutputs",
    "empty_frame",
    "validate",
]
