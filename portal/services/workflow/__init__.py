"""Workflow use cases: definitions, instances, steps, service jobs, human tasks, inbox, timers, migration."""
