"""What cxgm knows how to compute from AWS: attempts, jobs, executions, logs, rollups, reports.

Plain functions over the resources and pandas: the Dagster assets, the notebook API and the CLI all
call these, so there is one implementation of each.
"""
