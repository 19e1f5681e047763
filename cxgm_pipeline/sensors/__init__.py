"""Sensors and schedules: discover attempts, refresh them while they run, stop when they end."""
