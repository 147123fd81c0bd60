"""Clients for the outside systems the portal talks to (call logging, SAP, uploads, mail, rates)."""
