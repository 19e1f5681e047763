import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, asset
from dagster_pandera import pandera_schema_to_dagster_type

from cxgm_pipeline.config import get_config
from cxgm_pipeline.monitor.chain import Frame
from cxgm_pipeline.monitor.views.attempt_states import attempt_states as build_attempt_states
from cxgm_pipeline.monitor.views.attempt_states import latest_markdown, outcomes_markdown
from cxgm_pipeline.monitor.attempts.listing import list_all_attempts
from cxgm_pipeline.monitor.report import links
from cxgm_pipeline.monitor.report.document import markdown_table, write_report
from cxgm_pipeline.monitor.attempts.outcome import stored_outcome
from cxgm_pipeline.resources.aws import StepFunctionsResource
from cxgm_pipeline.resources.frame_store import FrameStoreResource
from cxgm_pipeline.schemas import AttemptStates
from cxgm_pipeline.sensors.views_follow_rollups import rollups_read


# It reads every stored dataset_rollup partition itself (an unpartitioned view over all of them): the lineage
# is declared with `deps`, so the UI shows it downstream of dataset_rollup, and it refreshes after any of them.
@asset(dagster_type=pandera_schema_to_dagster_type(AttemptStates), kinds={"pandas"}, deps=[Frame.dataset_rollup])
def attempt_states(context: AssetExecutionContext, sfn: StepFunctionsResource, store: FrameStoreResource) -> pd.DataFrame:
    """Every attempt of every stage: discovered / running / succeeded / failed / aborted / timed_out, with
    dataset counts from its latest rollup."""
    as_of = rollups_read(context.instance)  # before reading: a rollup landing meanwhile makes this run stale
    attempts = list_all_attempts(sfn, get_config().stage_names, context.log, store=store)
    rollups = {(a.stage, a.key): store.read(Frame.dataset_rollup, a.stage, a.key)
               for a in attempts if store.exists(Frame.dataset_rollup, a.stage, a.key)}
    outcomes = {(a.stage, a.key): stored_outcome(a, store) for a in attempts
                if store.exists(Frame.migration_jobs, a.stage, a.key)}
    portals = {key: store.read(Frame.portal_state, *key) for key in rollups if store.exists(Frame.portal_state, *key)}
    states = build_attempt_states(attempts, rollups, outcomes, portals)
    stages = get_config().stage_names
    # the pane shows what fits it at 1,280 px (lists that wrap, inline); the table of every attempt, wider than
    # the pane and longer than the UI renders inline, is the HTML report's
    columns = ["stage", "attempt", "campaign", "state", "outcome", "redrives", "datasets", "succeeded", "failed",
               "running", "pending", "not_started", "skipped"]
    folder = store.root() / "reports" / "overview"
    write_report(folder, lambda _: "\n".join([
        "# Every attempt of every stage", "",
        "`state`: the execution's status; `outcome`: what the attempt achieved (an execution that SUCCEEDED may "
        "have died in gather_collections).", "", markdown_table(states, columns)]), {}, "cxgm attempts")
    html = links.served("overview", "index.html")
    context.add_output_metadata({
        "attempts": len(states),
        "latest": MetadataValue.md(latest_markdown(states, stages)),
        "outcomes": MetadataValue.md(outcomes_markdown(states, stages)),
        "report": MetadataValue.md(f"[every attempt, as a table]({html})") if html
        else MetadataValue.path(str(folder / "index.html")),
        **as_of})  # what it was read from, after what it says: the UI lists metadata in this order
    return states
