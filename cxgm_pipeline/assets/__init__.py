"""The asset chain: aws/ (raw jobs, executions) -> rollups/ (enriched jobs, datasets, collections,
error signatures) -> reports/ (migration report, dev-vs-prod duration deltas)."""

import warnings

from dagster import BetaWarning, PreviewWarning

# dagster-pandera types and partitioned asset checks are marked beta/preview; we use them knowingly.
warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)
