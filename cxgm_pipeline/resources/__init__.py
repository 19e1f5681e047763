"""Dagster resources: AWS access per stage, and where frames are persisted."""
