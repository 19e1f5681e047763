"""A report in the Dagster UI, readable without a click. The UI renders a Markdown metadata value inline only
when it is shorter than 1,000 characters (dagster-webserver's MetadataEntry.tsx, `expandSmallValues`), else
behind "[Show Markdown]"; it has no image type. So each plot is a short Markdown image of the PNG as served
by the report server (CXGM_REPORTS_URL, see monitor/report/links.py), and the report a clickable URL. Without a
report server, the plots are embedded as data: URIs in one value (behind "[Show Markdown]") and the report
is named by its path (a browser opens no file:// link from the UI's http page)."""

import time
from collections.abc import Callable

from dagster import MetadataValue

from cxgm_pipeline.monitor.report.document import data_uri


def report_and_plots(folder, figures: dict[str, bytes], served: Callable[[str], str | None],
                     narrow_prefix: str | None = None) -> dict:
    """`served(file name)`: the URL of a file of the report folder, or None without a report server;
    `narrow_prefix`: the plots have narrow copies (`<prefix><name>`) that fit the pane: each shows one, a link to
    the full size."""
    html = served("index.html")
    meta = {"report": MetadataValue.url(html) if html else MetadataValue.path(str(folder / "index.html"))}
    if html and narrow_prefix is not None:  # a URL shown whole is wider than the pane at 1,280 px: a named link
        meta["report"] = MetadataValue.md(f"[the HTML report]({html}) (plots full size, every table)")
    if html:
        version = int(time.time())  # a new URL per materialization: the browser shows this one, not a cached one

        def shown(name: str) -> str:
            if narrow_prefix is None:
                return f"![{name}]({served(name)}?v={version})"
            return f"[![{name}]({served(narrow_prefix + name)}?v={version})]({served(name)}?v={version})"

        meta.update({f"plot_{name.removesuffix('.png')}": MetadataValue.md(shown(name)) for name in figures})
    else:
        meta["plots"] = MetadataValue.md("\n\n".join(f"![{n}]({data_uri(png)})" for n, png in figures.items()))
    return meta
