"""Receivables: invoices, credit and due notes, payments, reconciliation and the customer ledger."""
