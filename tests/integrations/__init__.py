"""Tests of the integration clients against real local servers."""
