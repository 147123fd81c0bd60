"""Billing use cases: drafting proformas, call-logging data, review, documents, delivery, stored files."""
