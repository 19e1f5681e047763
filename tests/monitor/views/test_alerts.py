"""Alerts on small hand-made frames: which an attempt deserves and what it reads for them, when they go (sent,
held for the next digest, or recorded as history), and how the Dagster UI shows them inline (subject, links, then
the body, under 1,000 characters)."""

import pandas as pd
import pytest

from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.views.alerts import (
    STALE_AFTER_S,
    SUBJECT_CHARS,
    Alert,
    Standing,
    alert_frames_stored,
    alert_markdown,
    alerts_table_markdown,
    attempt_digest,
    digest,
    digest_subject,
    disposition,
    evaluate,
    failure_counts,
    failure_rate,
    is_history,
    stored_alerts,
    stored_rerun,
    with_links,
)
from cxgm_pipeline.monitor.views.answer import HowFar
from cxgm_pipeline.vocabulary import AttemptState

pytestmark = pytest.mark.unit


def test_the_latest_alert_shows_its_body_and_links_inline():
    rerun = [f"  dataset-{i:04}  collection c{i}  cxg  out_of_memory" for i in range(80)]
    body = "\n".join(["succeeded - 49 of 49 (100%) ended - 8 failed", "", "Failed by category: validation 5",
                      "To re-run (80):", *rerun])
    alert = with_links(Alert("finished", "finished", "[cxgm] prod/ATTEMPT_2 finished: 8 failed", body),
                       {"Dagster": "http://ui/assets/x?a=1&b=2", "Report": "http://reports/prod/A/index.html"})
    text = alert_markdown(alert.subject, alert.body, pd.Timestamp("2026-12-01 10:00", tz="UTC"),
                          {"partition": "http://ui/assets/x?a=1&b=2", "report": "http://reports/prod/A/index.html"})
    assert len(text) < 1000
    assert text.startswith("**\\[cxgm\\] prod/ATTEMPT\\_2 finished: 8 failed** (2026-12-01 10:00 UTC)")
    assert "[partition](http://ui/assets/x?a=1&b=2)" in text and "[report](http://reports/prod/A/index.html)" in text
    assert "- succeeded - 49 of 49 (100%) ended - 8 failed\n" in text and "Failed by category: validation 5" in text
    assert "more lines" in text and "Dagster: http" not in text  # the links once, as links
    assert "```" not in text  # a code block's long lines would widen the pane


def test_a_digest_counts_new_causes_by_category_and_the_table_fits():
    alerts = [Alert("new_signature", f"signature:s{i}", f"[cxgm] p/A: new error ({c})", f"1 job(s) in cxg: s{i}", c)
              for i, c in enumerate(["out_of_memory"] * 5 + ["validation"] * 2)]
    d = digest("prod/A", alerts)
    assert d.subject == "[cxgm] prod/A: causes first seen: out_of_memory 5, validation 2"
    assert d.body.startswith("Causes first seen, by category (causes, not datasets): out_of_memory 5, validation 2")
    frame = pd.DataFrame([{"stage": "prod", "attempt": "A", "kind": "digest", "subject": f"[cxgm] subject {i}",
                           "partition_url": "http://ui/p", "report_url": "http://r/index.html",
                           "sent_at": pd.Timestamp("2026-12-01", tz="UTC") + pd.Timedelta(minutes=i)}
                          for i in range(40)])
    table = alerts_table_markdown(frame)
    assert len(table) < 1000 and "older: the alerts frame" in table
    assert table.splitlines()[0].startswith("- 12-01 00:39 UTC prod/A: \\[cxgm\\] subject 39 · [partition](")


# --- a digest's subject: how far the attempt is and what is new, the most important first --------------------

RUNNING = Standing(HowFar(1545, 2035, 23, approx=True), eta="ETA 20:51 UTC (15:17-21:37)")


def _causes(categories, standing=RUNNING, step="cxg"):
    return [Alert("new_signature", f"signature:{i}", f"[cxgm] prod/ATTEMPT_2: new error ({c})", f"1 job(s) in {step}: s{i}",
                  c, gist=f"{c} in {step}", standing=standing) for i, c in enumerate(categories)]


def _rate(standing=RUNNING):
    return Alert("failure_rate", "failure_rate", "[cxgm] prod/ATTEMPT_2: failure rate 12.3% > 10%", "23 datasets failed so far.",
                 gist="failure rate 12.3% > 10%", standing=standing)


def test_a_running_attempts_digest_says_how_far_it_is_and_what_is_new():
    subject = digest("prod/ATTEMPT_2", _causes(["out_of_memory"] * 3 + ["validation"] * 2)).subject
    assert subject == ("[cxgm] prod/ATTEMPT_2: 1,545 of ~2,035 ended, 23 failed; causes first seen: out_of_memory 3, "
                       "validation 2; ETA 20:51 UTC"), "the ETA last, without its range: what room is left"
    # one new cause: its category and step
    one = digest("prod/ATTEMPT_2", _causes(["validation"], step="validate_anndata"))
    assert one.subject == ("[cxgm] prod/ATTEMPT_2: 1,545 of ~2,035 ended, 23 failed; cause first seen: validation in "
                           "validate_anndata; ETA 20:51 UTC")
    assert one.body == "1 job(s) in validate_anndata: s0", "a single alert's body is its own"
    # the threshold crossed comes before the causes, which shrink to what fits
    crossed = digest("prod/ATTEMPT_2", [*_causes(["out_of_memory", "validation", "timeout", "storage", "storage"]), _rate()])
    assert crossed.subject == ("[cxgm] prod/ATTEMPT_2: 1,545 of ~2,035 ended, 23 failed; failure rate 12.3% > 10%; causes "
                               "first seen: storage 2, 3 more")
    progress = Alert("progress", "progress:2026-11-25", "[cxgm] prod/ATTEMPT_2: 1,545 of ~2,035 ended, ETA 2026-11-25 "
                     "20:51 UTC", "b", standing=RUNNING)
    assert digest("prod/ATTEMPT_2", [progress]).subject == \
        "[cxgm] prod/ATTEMPT_2: 1,545 of ~2,035 ended, 23 failed; ETA 20:51 UTC (15:17-21:37)"


def test_a_finished_attempts_digest_leads_with_its_end():
    ended = Standing(HowFar(1992, 1992, 83, approx=False), outcome="tolerance exceeded", old_schema=12)
    finished = Alert("finished", "finished", "[cxgm] prod/ATTEMPT_2 finished: 83 failed (tolerance exceeded)", "b",
                     standing=ended)
    assert digest("prod/ATTEMPT_2", [finished]).subject == \
        "[cxgm] prod/ATTEMPT_2 finished (tolerance exceeded): 1,992 ended, 83 failed; 12 still on the old schema in the portal"
    both = digest("prod/ATTEMPT_2", [*_causes(["validation"] * 2, ended), _rate(ended), finished]).subject
    assert both == "[cxgm] prod/ATTEMPT_2 finished (tolerance exceeded): 1,992 ended, 83 failed; failure rate 12.3% > 10%; +2 causes"
    aborted = Standing(HowFar(1865, 1985, 95, approx=False))
    assert digest("dev/A", [Alert("finished", "finished", "s", "b", standing=aborted)]).subject == \
        "[cxgm] dev/A finished: 1,865 of 1,985 ended, 95 failed", "not every dataset ended: of how many"


def test_an_attempt_that_died_before_any_dataset_says_where_and_why():
    died = Alert("finished", "finished", "[cxgm] dev/untagged-20261117T0008 finished without migrating any dataset: failed "
                 "in gather_collections (sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to "
                 "server at corpora-dev timed out)", "b", standing=Standing(None))
    subject = digest("dev/untagged-20261117T0008", [*_causes(["application"], Standing(None), "gather_collections"),
                                                     died]).subject
    assert len(subject) == SUBJECT_CHARS and subject.endswith("…")
    assert subject.startswith("[cxgm] dev/untagged-20261117T0008 finished without migrating any dataset: failed in "
                              "gather_collections (sqlalchemy")


def test_every_subject_fits_and_keeps_the_most_important_first():
    where = "staging/untagged-20261120T0008-with-a-long-key"
    many = [*_causes([f"category_{i}" for i in range(12)]), _rate()]
    subject = digest_subject(where, many)
    assert len(subject) <= SUBJECT_CHARS
    assert subject.startswith(f"[cxgm] {where}: 1,545 of ~2,035 ended, 23 failed; failure rate 12.3%"), subject


# --- what the alerts sensor decides, on small hand-made frames -------------------------------------------------

T0 = pd.Timestamp("2026-12-01 00:00", tz="UTC")


def _attempt(stage="prod", key="A", ended=True, hours=10):
    return Attempt(stage, key, key, (f"{key}-exec",), (f"arn:{key}",), T0.to_pydatetime(),
                   (T0 + pd.Timedelta(hours=hours)).to_pydatetime() if ended else None,
                   AttemptState.SUCCEEDED if ended else AttemptState.RUNNING)


class Store:
    """A frame store of hand-made frames that records what was read."""

    def __init__(self, frames: dict):
        self.frames, self.reads = frames, []

    def exists(self, name, stage=None, key=None):
        return (name, stage, key) in self.frames

    def read(self, name, stage=None, key=None):
        self.reads.append(name)
        return self.frames[(name, stage, key)]


def _datasets(states):
    started = [T0 + pd.Timedelta(hours=i) for i in range(len(states))]
    return pd.DataFrame({"stage": "prod", "attempt": "A", "dataset_id": [f"d{i}" for i in range(len(states))],
                         "collection_id": "c1", "collection_version_id": "v1", "state": states,
                         "failing_step": [("cxg" if s == "failed" else None) for s in states],
                         "error_category": [("out_of_memory" if s == "failed" else None) for s in states],
                         "error_signature": [("out_of_memory: cxg" if s == "failed" else None) for s in states],
                         "started_at": started, "finished_at": [t + pd.Timedelta(minutes=30) for t in started],
                         "total_duration_s": 1800.0, "retries": 0, "new_dataset_version_id": None})


SIGNATURES = pd.DataFrame({"error_signature": ["out_of_memory: cxg"], "error_category": ["out_of_memory"],
                           "step": ["cxg"], "jobs": [2], "datasets": [2]})


def _store(states, **more):
    frames = {("dataset_rollup", "prod", "A"): _datasets(states), ("error_signatures", "prod", "A"): SIGNATURES}
    frames.update({(name, "prod", "A"): frame for name, frame in more.items()})
    return Store(frames)


def test_the_failure_rate_counts_only_the_datasets_that_ran():
    datasets = pd.DataFrame({"dataset_id": list("abcde"), "state": ["failed", "succeeded", "running", "not_started",
                                                                     "skipped"]})
    assert failure_counts(datasets) == (1, 3)
    assert failure_rate(datasets) == pytest.approx(1 / 3)
    assert failure_rate(pd.DataFrame({"dataset_id": ["a", "b"], "state": ["not_started", "skipped"]})) == 0.0


def test_an_attempt_first_seen_a_day_after_it_ended_is_history():
    attempt = _attempt(hours=10)
    stop = T0 + pd.Timedelta(hours=10)
    long_after = lambda: (stop + pd.Timedelta(seconds=STALE_AFTER_S + 1)).to_pydatetime()  # noqa: E731
    assert is_history(attempt, True, long_after)
    assert not is_history(attempt, False, long_after), "seen before: its news is announced as it comes"
    assert not is_history(attempt, True, lambda: (stop + pd.Timedelta(hours=1)).to_pydatetime())

    def never():
        raise AssertionError("AWS's clock is asked only of an ended attempt first seen")

    assert not is_history(_attempt(ended=False), True, never)
    assert not is_history(attempt, False, never)


def test_new_alerts_are_sent_held_or_recorded():
    cause = [Alert("new_signature", "signature:s", "s", "b")]
    finished = [*cause, Alert("finished", "finished", "f", "b")]
    assert disposition([], False, None, 1000.0, 600) == "record"
    assert disposition(cause, True, None, 1000.0, 600) == "record", "history: recorded, never sent"
    assert disposition(cause, False, None, 1000.0, 600) == "send", "no digest yet"
    assert disposition(cause, False, 900.0, 1000.0, 600) == "hold", "the last digest went 100 s ago"
    assert disposition(cause, False, 400.0, 1000.0, 600) == "send"
    assert disposition(finished, False, 900.0, 1000.0, 600) == "send", "the finish goes at once"


def test_an_attempts_digest_carries_its_links():
    new = [Alert("new_signature", "signature:a", "[cxgm] prod/A: new error (x)", "1 job(s)", "x"),
           Alert("failure_rate", "failure_rate", "[cxgm] prod/A: failure rate 50.0% > 10%", "1 dataset failed so far.")]
    message = attempt_digest("prod/A", new, "http://ui/p", "http://r/index.html")
    assert message.key == "failure_rate,signature:a"  # the failure rate first, new causes last
    assert message.body.endswith("\n\nDagster: http://ui/p\nReport: http://r/index.html")


def test_which_frames_need_to_be_stored_before_any_alert():
    assert alert_frames_stored(_attempt(), _store(["failed"]))
    store = _store(["failed"])
    del store.frames[("error_signatures", "prod", "A")]
    assert not alert_frames_stored(_attempt(), store)


def test_an_ended_attempt_not_yet_finished_reads_only_its_rollup_and_signatures():
    store = _store(["failed", "failed", "succeeded"])
    new = stored_alerts(_attempt(), [_attempt()], store, set(), finished=False, threshold=0.1)
    assert [a.kind for a in new] == ["new_signature", "failure_rate"]
    assert new[1].subject == "[cxgm] prod/A: failure rate 66.7% > 10%"
    assert sorted(store.reads) == ["dataset_rollup", "error_signatures"], "no re-run list, portal or jobs read"
    assert digest("prod/A", new).subject == \
        "[cxgm] prod/A: 3 of 3 ended, 2 failed; failure rate 66.7% > 10%; cause first seen: out_of_memory in cxg"
    assert stored_alerts(_attempt(), [_attempt()], store, {a.key for a in new}, False, 0.1) == []


def test_a_running_attempts_digest_counts_of_the_expected_total():
    """"2 of ~9 ended", the datasets of collections not listed yet included, as its answer line counts them: the
    rollup alone would say "2 of 3"."""
    from cxgm_pipeline.monitor.views.alerts import progress_key
    from cxgm_pipeline.monitor.views.answer import answer_line
    from cxgm_pipeline.monitor.views.progress import observed_now, stored_progress

    collections = pd.DataFrame({"collection_id": ["c1", "c2", "c3"], "datasets": [3, 0, 0],
                                "collection_migration_status": ["SUCCEEDED", None, "RUNNING"]})
    store = _store(["failed", "succeeded", "running"], collection_rollup=collections)
    attempt, rollup = _attempt(ended=False), store.frames[("dataset_rollup", "prod", "A")]
    announced = {progress_key(observed_now(rollup))}  # today's progress alert went: no progress read for it
    new = stored_alerts(attempt, [attempt], store, announced, finished=False, threshold=0.5)
    assert [a.kind for a in new] == ["new_signature"]
    assert digest("prod/A", new).subject.startswith("[cxgm] prod/A: 2 of ~9 ended, 1 failed; cause first seen: out_of_memory in cxg")
    assert "2 of ~9 (22%) ended - 1 failed" in answer_line("running", rollup, stored_progress(attempt, store, [], rollup))


def test_a_running_attempts_progress_digest_reads_the_portal_its_answer_line_counts():
    """A digest's body said "782 of 2,037+ ... (how many: on migration_report)" under a subject "782 of ~2,037":
    its answer line lacked the portal_state that names the datasets of collections that failed before listing them."""
    portal = pd.DataFrame({"dataset_id": ["d0", "lost"], "state": ["failed", "not_started"],
                           "portal_verdict": ["published_on_old_schema", "published_on_old_schema"]})
    store = _store(["failed", "succeeded", "running"], portal_state=portal)
    attempt = _attempt(ended=False)
    stored_alerts(attempt, [attempt], store, set(), finished=False, threshold=0.5)  # the progress alert is due
    assert store.reads.count("portal_state") == 1, store.reads  # once, for the answer line and the progress


def test_the_finished_alert_leads_with_the_answer_and_lists_the_stored_rerun_list():
    rerun = pd.DataFrame({"dataset_id": ["d9"], "collection_id": ["c9"], "failing_step": ["cxg"],
                          "error_category": ["out_of_memory"]})
    store = _store(["failed", "succeeded", "succeeded"], rerun_manifest=rerun)
    announced = {"signature:out_of_memory: cxg", "failure_rate"}
    [done] = stored_alerts(_attempt(), [_attempt()], store, announced, finished=True, threshold=0.1)
    assert done.kind == "finished" and done.subject == "[cxgm] prod/A finished: 1 failed"
    assert done.body.splitlines()[0].startswith("finished with failures - 3 of 3 (100%) ended - 1 failed")
    assert "To re-run (1):\n  d9  collection c9  cxg  out_of_memory" in done.body, "the stored list, not the rollup's"
    assert "Progress: " in done.body
    assert "rerun_manifest" in store.reads and "portal_state" not in store.reads


def test_without_a_stored_rerun_list_the_finished_alert_builds_it_from_the_rollup():
    store = _store(["failed", "succeeded", "not_started"])
    assert sorted(stored_rerun(_attempt(), store)["dataset_id"]) == ["d0", "d2"]  # ended: the never started too


def test_evaluate_announces_each_thing_once():
    datasets = pd.DataFrame({"dataset_id": ["a", "b", "c"], "state": ["failed", "succeeded", "running"]})
    signatures = pd.DataFrame({"error_signature": ["timeout: x"], "error_category": ["timeout"], "step": ["cxg"], "jobs": [1]})
    rerun = pd.DataFrame({"dataset_id": ["a"], "collection_id": ["c1"], "failing_step": ["cxg"], "error_category": ["timeout"]})
    first = evaluate("prod", "A", datasets, signatures, rerun, finished=False, threshold=0.1, announced=set())
    assert [a.kind for a in first] == ["new_signature", "failure_rate"]
    seen = {a.key for a in first}
    assert evaluate("prod", "A", datasets, signatures, rerun, False, 0.1, seen) == []
    done = evaluate("prod", "A", datasets, signatures, rerun, True, 0.1, seen)
    assert [a.kind for a in done] == ["finished"] and "a  collection c1  cxg  timeout" in done[0].body


def test_the_finished_alert_says_a_succeeded_execution_failed_as_an_attempt():
    datasets = pd.DataFrame({"dataset_id": ["a", "b"], "state": ["succeeded", "succeeded"]})
    empty = pd.DataFrame(columns=["error_signature", "error_category", "step", "jobs"])
    rerun = pd.DataFrame(columns=["dataset_id", "collection_id", "failing_step", "error_category"])
    [done] = evaluate("prod", "A", datasets, empty, rerun, True, 0.1, set(), outcome="tolerance_exceeded")
    assert done.subject == "[cxgm] prod/A finished: 0 failed (tolerance exceeded)"
    assert done.body.startswith("Outcome: tolerance_exceeded")
    [plain] = evaluate("prod", "A", datasets, empty, rerun, True, 0.1, set(), outcome="succeeded")
    assert plain.subject == "[cxgm] prod/A finished: 0 failed"


def test_the_progress_alert_counts_of_the_expected_total_as_its_answer_line_does():
    import dataclasses

    from cxgm_pipeline.monitor.views.alerts import daily_progress
    from cxgm_pipeline.monitor.views.progress import attempt_progress

    now = pd.Timestamp("2026-11-25 12:04", tz="UTC")
    rollup = pd.DataFrame({"dataset_id": ["a", "b", "c"], "state": ["succeeded", "failed", "running"],
                           "started_at": [now - pd.Timedelta(hours=2)] * 3,
                           "finished_at": [now - pd.Timedelta(hours=1)] * 2 + [pd.NaT],
                           "total_duration_s": [3600.0, 3600.0, None]})
    progress = dataclasses.replace(attempt_progress("prod", "A", rollup, now=now, start=now - pd.Timedelta(hours=3)),
                                   unlisted=97)
    alert = daily_progress("prod/A", progress, finished=False, announced=set())
    assert alert.subject.startswith("[cxgm] prod/A: 2 of ~100 ended"), alert.subject


def test_a_cause_no_failed_job_carries_counts_its_datasets_not_0_jobs():
    """Production's cleanup step failed 46 datasets whose jobs all succeeded: "0" would read as no failure."""
    datasets = pd.DataFrame({"dataset_id": ["a", "b"], "state": ["failed", "failed"]})
    signatures = pd.DataFrame({"error_signature": ["application: rolled back by the cleanup step", "timeout: x"],
                               "error_category": ["application", "timeout"],
                               "step": ["collection_cleanup", "cxg"], "jobs": [0, 1], "datasets": [46, 1]})
    rerun = pd.DataFrame(columns=["dataset_id", "collection_id", "failing_step", "error_category"])
    alerts = evaluate("prod", "A", datasets, signatures, rerun, True, 0.99, set())
    new = [a.body for a in alerts if a.kind == "new_signature"]
    assert new == ["46 datasets in collection_cleanup: application: rolled back by the cleanup step",
                   "1 job in cxg: timeout: x"]
    [done] = [a for a in alerts if a.kind == "finished"]
    assert "   46 datasets  collection_cleanup " in done.body and "         1 job  cxg " in done.body, done.body
    assert " 0 " not in done.body


def test_a_cause_that_failed_no_dataset_is_not_announced_until_it_does():
    """prod's digest said "cancelled 2": the Parallel's other branch, stopped by Step Functions when validation
    failed. Its dataset failed of validation; the page lists no cancelled failure. A collection step's cause has
    no dataset row and is announced as before."""
    datasets = pd.DataFrame({"dataset_id": ["a", "b"], "state": ["failed", "running"],
                             "error_signature": ["validation: bad term", None]})
    signatures = pd.DataFrame({
        "error_signature": ["validation: bad term", "cancelled: stopped", "out_of_memory: Killed", "application: x"],
        "error_category": ["validation", "cancelled", "out_of_memory", "application"],
        "step": ["validate_anndata", "validate_atac", "cxg", "collection_migration"], "jobs": [1, 1, 1, 1]})
    rerun = pd.DataFrame(columns=["dataset_id", "collection_id", "failing_step", "error_category"])
    new = [a.key for a in evaluate("prod", "A", datasets, signatures, rerun, False, 0.99, set())]
    assert new == ["signature:validation: bad term", "signature:application: x"]
    later = datasets.assign(state="failed", error_signature=["validation: bad term", "out_of_memory: Killed"])
    assert [a.key for a in evaluate("prod", "A", later, signatures, rerun, False, 0.99, {*new, "failure_rate"})] == \
        ["signature:out_of_memory: Killed"]


def test_a_provisional_cause_is_not_announced_the_cause_its_log_gives_is():
    """An ingestion failed in a job whose log is not read yet (`pending_logs`): the dataset's failure counts, its
    cause is announced once the log says it, so no digest names one cause and a later one another."""
    rerun = pd.DataFrame(columns=["dataset_id", "collection_id", "failing_step", "error_category"])
    pending = "ingestion execution FAILED: States.TaskFailed in ValidateAnndata"
    datasets = pd.DataFrame({"dataset_id": ["a", "b"], "state": ["failed", "succeeded"], "error_signature": [pending, None]})
    signatures = pd.DataFrame({"error_signature": [pending], "error_category": ["pending_logs"],
                               "step": ["validate_anndata"], "jobs": [0], "datasets": [1]})
    early = evaluate("prod", "A", datasets, signatures, rerun, False, 0.1, set())
    assert [a.kind for a in early] == ["failure_rate"]
    read = "validation: ERROR: '{term_id}' in 'cell_type_ontology_term_id' is not a valid ontology term id."
    later = evaluate("prod", "A", datasets.assign(error_signature=[read, None]),
                     signatures.assign(error_signature=[read], error_category=["validation"], jobs=[1]), rerun, False,
                     0.1, {a.key for a in early})
    assert [(a.kind, a.category, a.gist) for a in later] == [("new_signature", "validation", "validation in validate_anndata")]


@pytest.mark.parametrize(("state", "outcome", "said"), [
    ("aborted", "aborted", "aborted"), ("failed", "failed", "failed"), ("timed_out", "timed_out", "timed out"),
    ("succeeded", "finished_with_failures", "finished")])
def test_the_finished_alert_says_how_the_attempt_ended_as_its_answer_line_does(state, outcome, said):
    """dev's aborted attempt: "[cxgm] dev/... finished: 208 failed", where its answer line began "aborted"."""
    datasets = pd.DataFrame({"dataset_id": ["a", "b", "c"], "state": ["failed", "succeeded", "not_started"]})
    signatures = pd.DataFrame({"error_signature": ["timeout: x"], "error_category": ["timeout"], "step": ["cxg"],
                               "jobs": [1]})
    rerun = pd.DataFrame({"dataset_id": ["a"], "collection_id": ["c1"], "failing_step": ["cxg"],
                          "error_category": ["timeout"]})
    announced = {"signature:timeout: x", "failure_rate"}
    [done] = evaluate("dev", "A", datasets, signatures, rerun, True, 0.1, announced, outcome=outcome, state=state)
    assert done.subject == f"[cxgm] dev/A {said}: 1 failed", "no \"failed (failed)\": the end says it"
    assert digest("dev/A", [done]).subject.startswith(f"[cxgm] dev/A {said}: ")
    empty = datasets.iloc[:0]
    [died] = evaluate("dev", "A", empty, signatures.iloc[:0], rerun.iloc[:0], True, 0.1, set(), outcome=outcome,
                      state=state)
    assert died.subject == f"[cxgm] dev/A {said} without migrating any dataset"
