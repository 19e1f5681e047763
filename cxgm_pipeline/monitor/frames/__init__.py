"""One module per frame of the chain (monitor/chain.py), in the order the data moves: jobs -> enriched jobs, output records -> step outputs -> executions -> rollups -> re-run list, portal state."""
