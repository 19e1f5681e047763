"""Post-run verification, as a release runbook does it, on the run's own partition."""

import dataclasses

import pandas as pd
from dagster import (AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetIn, AssetKey,
                     MetadataValue, asset_check, multi_asset_check)

from cxgm_pipeline.assets.chain import CHAIN_ASSETS
from cxgm_pipeline.assets.partition_context import partition, resolve_attempt
from cxgm_pipeline.config import max_failure_rate
from cxgm_pipeline.monitor.attempts.outcome import stored_outcome
from cxgm_pipeline.monitor.chain import Frame, stored_previous
from cxgm_pipeline.monitor.report.document import markdown_table
from cxgm_pipeline.monitor.report.links import REPORT_ASSET
from cxgm_pipeline.monitor.views.alerts import failure_counts, failure_rate
from cxgm_pipeline.monitor.views.answer import attempt_answer, breakable
from cxgm_pipeline.monitor.views.checks import accounting, succeeded_without_new_version, view_mismatches
from cxgm_pipeline.monitor.views.progress import unlisted_while_running
from cxgm_pipeline.partitions import migration_partitions
from cxgm_pipeline.resources.aws import StepFunctionsResource
from cxgm_pipeline.resources.frame_store import FrameStoreResource, stage_and_attempt

LISTED = 20


def _listing(values) -> MetadataValue:
    values = list(values)
    return MetadataValue.text(", ".join(map(str, values[:LISTED])) + (f" … (+{len(values) - LISTED})" if len(values) > LISTED else ""))


@asset_check(asset=CHAIN_ASSETS[Frame.dataset_rollup], partitions_def=migration_partitions, blocking=False,
             additional_ins={Frame.step_outputs: AssetIn(Frame.step_outputs)})
def every_dataset_accounted_once(dataset_rollup: pd.DataFrame, step_outputs: pd.DataFrame) -> AssetCheckResult:
    """Every dataset a step named has exactly one row, and every row names its dataset (no `unattributed:`)."""
    found = accounting(dataset_rollup, step_outputs)
    return AssetCheckResult(
        passed=not any(found.values()),
        metadata={"rows": len(dataset_rollup), **{k: len(v) for k, v in found.items()},
                  **{f"{k}_list": _listing(v) for k, v in found.items()}},
    )


@asset_check(asset=CHAIN_ASSETS[Frame.dataset_rollup], partitions_def=migration_partitions, blocking=False)
def succeeded_have_new_version(dataset_rollup: pd.DataFrame) -> AssetCheckResult:
    """A dataset that succeeded must have the new dataset version its migration created."""
    succeeded, lacking = succeeded_without_new_version(dataset_rollup)
    return AssetCheckResult(passed=lacking.empty, metadata={"succeeded": succeeded, "without_new_version": _listing(lacking)})


@asset_check(asset=CHAIN_ASSETS[Frame.dataset_rollup], partitions_def=migration_partitions, blocking=False)
def failure_rate_below_threshold(context: AssetCheckExecutionContext, dataset_rollup: pd.DataFrame) -> AssetCheckResult:
    """Failed datasets stay under $CXGM_MAX_FAILURE_RATE (default 10%) of those that ran."""
    threshold = max_failure_rate()
    failed, ran = failure_counts(dataset_rollup)
    rate = failure_rate(dataset_rollup)
    # the UI's check list shows the latest evaluation of ANY partition, its detail another one: each result
    # names its partition, so "Failed" beside "Passed" reads as two partitions, not one contradiction
    where = _where(context)
    said = (f"{where}: {failed:,} of {ran:,} failed ({rate:.1%}), {'within' if rate <= threshold else 'over'} "
            f"{threshold:.0%}") if ran else f"{where}: no dataset ran" + _placeholder(dataset_rollup, context)
    passed = rate <= threshold
    return AssetCheckResult(passed=passed, severity=AssetCheckSeverity.WARN,
                            description=said if passed else _severe(AssetCheckSeverity.WARN, said),
                            metadata={"partition": where, "failure_rate": round(rate, 4), "threshold": threshold,
                                      "failed": failed, "ran": ran})


def _severe(severity: AssetCheckSeverity, said: str) -> str:
    """A failed result's description, its severity first: Dagster 1.13's partition grid of a check paints WARN
    and ERROR failures the same red (its partition statuses carry no severity); the detail below it shows this."""
    return f"{'ERROR' if severity == AssetCheckSeverity.ERROR else 'WARNING'}: {said}"


def _where(context: AssetCheckExecutionContext) -> str:
    stage, key = partition(context.op_execution_context)
    return f"{stage}/{key}"


def _placeholder(dataset_rollup: pd.DataFrame, context: AssetCheckExecutionContext) -> str:
    """The discovery sensor materializes cells an attempt never ran in as empty frames, tagged with why."""
    tags = context.op_execution_context.run.tags if dataset_rollup.empty else {}
    reason = tags.get("cxgm/reason")
    return f" (a placeholder: {reason})" if reason else ""


# the check's own page (the rollup's health_grid link) shows this first
HEALTH_DESCRIPTION = ("Each attempt's health: red, ERROR when it died in gather_collections, passed its Map Run's "
                      "tolerance, was aborted or its execution failed; red too, WARNING, when datasets failed (an "
                      "attempt's result starts with which); skipped for a stage it never ran in. Its Partitions tab "
                      "colours every attempt.")
# The report is the page people land on, and its partition list is green for every attempt it reported on
# (Dagster 1.13 colours an asset's partitions by materialization only): the same judgement, attached to the
# report too, gives its Checks tab the grid that colours each attempt by health.
HEALTH_OF = (CHAIN_ASSETS[Frame.dataset_rollup].key, AssetKey(REPORT_ASSET))


# A multi-asset check only to be allowed to yield nothing: a placeholder's result is then Skipped (yellow in the
# check's partition grid), neither Passed (a clean rehearsal) nor Failed (nothing went wrong).
@multi_asset_check(specs=[AssetCheckSpec("attempt_is_healthy", asset=asset, partitions_def=migration_partitions,
                                         additional_deps=[Frame.enriched_jobs, Frame.step_outputs, Frame.child_failures,
                                                          Frame.portal_state],
                                         description=HEALTH_DESCRIPTION) for asset in HEALTH_OF],
                   can_subset=True, ins={Frame.dataset_rollup: AssetIn(Frame.dataset_rollup),
                                         Frame.enriched_jobs: AssetIn(Frame.enriched_jobs),
                                         Frame.step_outputs: AssetIn(Frame.step_outputs),
                                         Frame.child_failures: AssetIn(Frame.child_failures)},
                   required_resource_keys={"sfn", "store"})
def attempt_is_healthy(context: AssetCheckExecutionContext, dataset_rollup: pd.DataFrame,
                       enriched_jobs: pd.DataFrame, step_outputs: pd.DataFrame, child_failures: pd.DataFrame):
    """The attempt did not end badly: ERROR when it died in gather_collections (even if its execution
    SUCCEEDED), was aborted or its execution failed; WARN when datasets failed; no result for a placeholder
    (not run in this stage). Its partition grid (Checks > attempt_is_healthy > Partitions) shows each
    partition's result: the asset's own grid only says whether the frames were written."""
    _, _, attempt = resolve_attempt(context.op_execution_context, context.resources.sfn)
    where = _where(context)
    if attempt is None:
        context.log.info(f"{where}: a placeholder: not run in this stage, no attempt to judge (check skipped)")
        return
    # what it achieved, from its stored frames (a SUCCEEDED execution may be a failure)
    attempt = dataclasses.replace(attempt, outcome=stored_outcome(attempt, context.resources.store))
    unlisted = unlisted_while_running(attempt, dataset_rollup, enriched_jobs, step_outputs, child_failures)
    # after portal_state (a dependency): the datasets of collections that failed before naming them, as the
    # rollup's metadata and migration_report count them
    stage, key = partition(context.op_execution_context)
    portal = stored_previous(context.resources.store, stage, key, (Frame.portal_state,)).get(Frame.portal_state)
    answer, health = attempt_answer(attempt, dataset_rollup, enriched_jobs, with_eta=False, unlisted=unlisted,
                                    portal_before=portal)
    severity = AssetCheckSeverity.ERROR if health.level == "error" else AssetCheckSeverity.WARN
    said = f"{where}: {breakable(health.reason) or 'healthy'}"
    for key in context.selected_asset_check_keys:
        yield AssetCheckResult(asset_key=key.asset_key, check_name=key.name, passed=health.healthy, severity=severity,
                               description=said if health.healthy else _severe(severity, said),
                               metadata={"partition": where, "answer": answer, "health": health.level})


@asset_check(asset=CHAIN_ASSETS[Frame.sfn_executions], partitions_def=migration_partitions, blocking=False,
             additional_ins={Frame.dataset_rollup: AssetIn(Frame.dataset_rollup), Frame.migration_jobs: AssetIn(Frame.migration_jobs)})
def job_and_execution_views_agree(sfn_executions: pd.DataFrame, dataset_rollup: pd.DataFrame,
                                  migration_jobs: pd.DataFrame) -> AssetCheckResult:
    """Ended ingestion executions and their datasets' Batch jobs tell the same story; mismatches are listed,
    executions that ended while the jobs were being read are counted as in flight."""
    observed = migration_jobs["observed_at"].max() if not migration_jobs.empty else None
    mismatches, in_flight = view_mismatches(sfn_executions, dataset_rollup, observed)
    return AssetCheckResult(passed=mismatches.empty, metadata={
        "executions": len(sfn_executions), "mismatches": len(mismatches), "in_flight": in_flight,
        "list": MetadataValue.md(markdown_table(mismatches, list(mismatches.columns), 50))})


@asset_check(asset=CHAIN_ASSETS[Frame.migration_jobs], partitions_def=migration_partitions, blocking=False)
def aws_access(context: AssetCheckExecutionContext, sfn: StepFunctionsResource,
               store: FrameStoreResource) -> AssetCheckResult:
    """`cxgm doctor` for the partition's stage: credentials, clock, every configured name and every read-only
    action cxgm uses. An attempt with no job may be a queue that does not exist: this says so. A passing diagnosis
    stands for an hour ($CXGM_ACCESS_RECHECK_SECONDS), not re-made by every refresh."""
    from cxgm_pipeline.monitor.aws.doctor import diagnose_remembered

    stage, _ = stage_and_attempt(context.partition_key)
    found, checked_at = diagnose_remembered(stage, store, sfn.config_path)
    lines = [f"| {c.status} | {c.what} | {c.detail} | {c.fix} |".replace("\n", " ") for c in found.checks if c.status != "OK"]
    table = "| status | what | found | fix |\n|---|---|---|---|\n" + "\n".join(lines) if lines else "_all OK_"
    return AssetCheckResult(passed=found.ok, metadata={
        "checks": len(found.checks), "failed": len(found.failed), "checked_at": f"{checked_at:%Y-%m-%d %H:%M} UTC",
        "warned": sum(c.status == "WARN" for c in found.checks), "problems": MetadataValue.md(table)})


ALL_CHECKS = [every_dataset_accounted_once, succeeded_have_new_version, failure_rate_below_threshold,
              job_and_execution_views_agree, aws_access, attempt_is_healthy]
