"""Spreadsheet-safe cells, for every CSV/XLSX the portal writes (admin exports, SAP CSV)."""

from __future__ import annotations

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value):
    """Stop spreadsheets from running cell text as a formula (CSV/XLSX injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
