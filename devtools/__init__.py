"""Development tools outside the application: the demo seed and fake outside systems (for `make run` and tests)."""
