import pandas as pd
from upath import UPath

from cxgm_pipeline.monitor.report import attempt_markdown, write_report

SIGNATURE = ("validation: All embeddings have to be of 'numpy.ndarray' type, 'adata.obsm['X_tsne']' is "
             "<class 'pandas.core.frame.DataFrame'>').")
EVIDENCE = "validator-embedding-uns @ log: ERROR: x | y * z _w_ `code` uns[suspension_type_colors] & more"


def test_error_section_shows_evidence_and_keeps_every_character_as_text(tmp_path):
    """Signatures quote code: <class ...>, pipes, brackets, stars. Neither Markdown nor HTML may eat them."""
    signatures = pd.DataFrame([{"jobs": 3, "datasets": 2, "step": "validate_anndata", "error_category": "validation",
                                "error_signature": SIGNATURE, "examples": "EFO:0009310, EFO:0009899",
                                "error_evidence": EVIDENCE}])
    datasets = pd.DataFrame(columns=["dataset_id", "collection_id", "state", "failing_step", "error_category"])
    markdown = attempt_markdown("prod", "ATTEMPT_2", pd.DataFrame(), datasets, signatures, {})
    row = next(line for line in markdown.splitlines() if line.startswith("| 3 "))
    assert "<class" not in row and "&lt;class" in row  # an HTML tag in Markdown would vanish
    assert row.count("|") - row.count("\\|") == 8  # 7 cells: the evidence's own pipe is escaped
    assert "error_evidence" in markdown and "EFO:0009310, EFO:0009899" in row
    write_report(UPath(str(tmp_path)), lambda images: markdown, {}, "t")
    page = (tmp_path / "index.html").read_text()
    import html
    assert f"<td>{html.escape(SIGNATURE)}</td>" in page
    assert f"<td>{html.escape(EVIDENCE)}</td>" in page
    assert "&amp;lt;" not in page and "\\|" not in page
