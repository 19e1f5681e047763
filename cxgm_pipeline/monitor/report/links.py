"""Where a person opens what cxgm made: the Dagster UI's page of a partition, and the HTML report.

A browser opens no `file://` link from an http page (the Dagster UI), so reports are linked through an HTTP
server of the reports folder (`make demo` starts one: `python -m http.server`; in production, whatever serves
the `reports/` prefix of CXGM_DATA). CXGM_REPORTS_URL names it; unset, reports are named by their path only.
"""

from __future__ import annotations

import os
from urllib.parse import quote, urlencode

from cxgm_pipeline.monitor.attempts.ref import AttemptRef

UI_URL_VAR = "CXGM_UI_URL"
DEFAULT_UI_URL = "http://localhost:3000"
REPORTS_URL_VAR = "CXGM_REPORTS_URL"
REPORT_ASSET = "migration_report"


def ui_url() -> str:
    return (os.environ.get(UI_URL_VAR) or DEFAULT_UI_URL).rstrip("/")


def reports_url() -> str | None:
    """The base URL serving the store's `reports/` folder, or None."""
    return (os.environ.get(REPORTS_URL_VAR) or "").rstrip("/") or None


def partition_page(ref: AttemptRef, asset: str = REPORT_ASSET) -> str:
    """The asset's page in the Dagster UI, opened on this (stage, attempt) partition."""
    return f"{ui_url()}/assets/{quote(asset)}?" + urlencode({"view": "partitions", "partition": ref.partition_key})


def health_grid(asset: str = "dataset_rollup", check: str = "attempt_is_healthy") -> str:
    """The check's page in the Dagster UI: its Partitions tab is the one grid that colours each attempt by its
    health (an asset's own grid says only whether its frames were written)."""
    return f"{ui_url()}/assets/{quote(asset)}?" + urlencode({"view": "checks", "checkDetail": check})


def served(*parts: str) -> str | None:
    """The served URL of `reports/<parts...>`, or None when no server is configured."""
    base = reports_url()
    return base + "".join(f"/{quote(p)}" for p in parts) if base else None


def report_file(ref: AttemptRef, name: str = "index.html") -> str | None:
    """The served URL of a file of the partition's report folder (`reports/<stage>/<attempt>/<name>`)."""
    return served(ref.stage, ref.key, name)


def comparison_name(base: str, other: str) -> str:
    """The folder of a comparison's report under `reports/compare/` (`dev:ATTEMPT_2`, `prod:ATTEMPT_2` ->
    `dev_ATTEMPT_2__prod_ATTEMPT_2`): duration_deltas writes it, an attempt's page links it."""
    return f"{base.replace(':', '_')}__{other.replace(':', '_')}"
