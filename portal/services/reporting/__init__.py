"""Reporting: figures for the dashboard (balances, debts and reports land here)."""
