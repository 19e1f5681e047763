"""Piped or redirected (`cxgm ... | less`, `> file`), the tables keep whole values: a dataset id and a cause stay
on one line, whole, so that grep finds them and a reader of the file can copy them."""

import json
import os

import pandas as pd
import pytest
from typer.testing import CliRunner

from cxgm_pipeline.cli import app
from cxgm_pipeline.monitor.store.bundle import import_marker, imported_store
from cxgm_pipeline.monitor.store.frames import FrameStore

DATASET = "0895c838-e550-48a3-a777-dbcd35d55642"
COLLECTION = "283d65eb-dd53-496d-adb7-7570c7caa443"
CAUSE = ("ValueError: Column 'cell_type_ontology_term_id' in dataframe 'obs' contains invalid term "
         "'CL:{term}': the term is not a descendant of a cell type and is deprecated in the ontology")


@pytest.fixture
def imported(tmp_path, monkeypatch):
    """An imported attempt prod/PIPED (read without AWS) with one failed dataset and its long cause."""
    monkeypatch.setenv("CXGM_DATA", str(tmp_path / "data"))
    store = FrameStore()
    frames = imported_store(store)
    frames.write(pd.DataFrame({
        "dataset_id": [DATASET], "collection_id": [COLLECTION], "collection_version_id": [COLLECTION],
        "state": ["failed"], "current_step": [None], "failing_step": ["validate_anndata"],
        "error_category": ["validation"], "error_signature": [CAUSE], "retries": [0]}), "dataset_rollup", "prod", "PIPED")
    frames.write(pd.DataFrame({
        "error_signature": [CAUSE], "error_category": ["validation"], "error_kind": ["runtime"],
        "step": ["validate_anndata"], "jobs": [1], "datasets": [1], "example_datasets": [DATASET],
        "examples": ["CL:0000001"], "error_evidence": [None]}), "error_signatures", "prod", "PIPED")
    marker = import_marker(store, "prod", "PIPED")
    marker.parent.mkdir(parents=True)
    marker.write_text(json.dumps({"stage": "prod", "attempt": "PIPED"}))


@pytest.mark.parametrize("view,wanted", [("datasets", (DATASET, COLLECTION, "validate_anndata")),
                                         ("errors", (CAUSE, "validate_anndata"))])
def test_piped_output_keeps_ids_and_causes_whole_on_one_line(imported, monkeypatch, view, wanted):
    monkeypatch.delenv("COLUMNS", raising=False)
    # the terminal the pipe starts from is 80 columns wide: a pipe's reader is no terminal, its width is no limit
    monkeypatch.setattr(os, "get_terminal_size", lambda fd=0: os.terminal_size((80, 24)))
    result = CliRunner().invoke(app, ["describe", view, "--env", "prod", "--tag", "PIPED"])  # output captured: no tty
    assert result.exit_code == 0, result.output
    assert any(all(w in line for w in wanted) for line in result.output.splitlines()), result.output


def test_piped_output_honours_columns(imported, monkeypatch):
    """$COLUMNS set is the width asked for, piped or not."""
    result = CliRunner().invoke(app, ["describe", "errors", "--env", "prod", "--tag", "PIPED"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 100, result.output
