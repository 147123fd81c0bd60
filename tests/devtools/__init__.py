"""Tests of the development tools: the local mail sink, the demo seed."""
