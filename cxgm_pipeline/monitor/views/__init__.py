"""What people read over the frames: progress and ETA, dev-vs-prod deltas, one dataset's drill-down, alerts, the attempts overview."""
