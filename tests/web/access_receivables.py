"""The access matrix's receivables routes: who may open each page and send each form, probed so nothing changes
(missing ids, empty forms); what allowed requests do is in test_receivables_pages.py."""

from __future__ import annotations

from flask import url_for

from tests.web.access_expectations import ANON, may
from tests.web.access_probes import LOGIN, Probe

# Who reads every customer's receivables (the others read only their projects' customers): written out by hand.
ALL_CUSTOMERS = frozenset({"admin", "finance_manager", "accountant", "guest"})
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MISSING = 999_999


def _probe(endpoint, method, url, permission, identity, ok, location=None, data=None):
    if identity == ANON:
        return Probe(endpoint, method, url, 302, LOGIN, data=data or {})
    if not may(identity, permission):
        return Probe(endpoint, method, url, 403, data=data or {})
    return Probe(endpoint, method, url, ok, location, data=data or {})


def _get(endpoint, permission, ok=200, location=None, **args):
    return lambda i, w: [_probe(endpoint, "GET", url_for(endpoint, **args), permission, i, ok,
                                location() if location else None)]


def _post(endpoint, permission, ok, data=None, **args):
    return lambda i, w: [_probe(endpoint, "POST", url_for(endpoint, **args), permission, i, ok, data=data)]


def _documents(i, w):
    return [_probe("receivables.documents", "GET", url_for("receivables.documents"), "receivables.read", i, 200),
            _probe("receivables.documents", "GET", url_for("receivables.documents", state="lost"), "receivables.read",
                   i, 400)]


def _payments_export(i, w):
    probes = []
    for fmt, mimetype in (("csv", "text/csv"), ("xlsx", XLSX)):
        probe = _probe("receivables.payments_export", "GET", url_for("receivables.payments_export", fmt=fmt),
                       "receivables.read", i, 200 if i in ALL_CUSTOMERS else 403)
        probe.mimetype = mimetype if probe.status == 200 else None
        probes.append(probe)
    return probes


def _ledger(i, w):
    return [_probe("receivables.ledger", "GET", url_for("receivables.ledger"), "receivables.read", i, 200),
            _probe("receivables.ledger", "GET", url_for("receivables.ledger", customer="NO-SUCH"),
                   "receivables.read", i, 400)]


def _new(endpoint):
    """The form (200) and an empty one sent back (400, nothing written)."""
    return lambda i, w: [_probe(endpoint, "GET", url_for(endpoint), "receivables.record", i, 200),
                         _probe(endpoint, "POST", url_for(endpoint), "receivables.record", i, 400)]


def _portal(endpoint, **args):
    """A customer's own pages; a missing (or someone else's) document is a 404."""
    ok = 404 if args else 200
    return lambda i, w: [_probe(endpoint, "GET", url_for(endpoint, **args), "portal.view", i, ok)]


SITE = {
    "customer_portal.document": ("portal.view", _portal("customer_portal.document", document_id=MISSING)),
    "customer_portal.document_file": ("portal.view", _portal("customer_portal.document_file", document_id=MISSING,
                                                             fmt="pdf")),
    "customer_portal.statement": ("portal.view", _portal("customer_portal.statement")),
    "receivables.index": ("receivables.read",
                          _get("receivables.index", "receivables.read", 302, lambda: url_for("receivables.documents"))),
    "receivables.documents": ("receivables.read", _documents),
    "receivables.document": ("receivables.read", _get("receivables.document", "receivables.read", 404,
                                                      document_id=MISSING)),
    "receivables.document_file": ("receivables.read", _get("receivables.document_file", "receivables.read", 404,
                                                           document_id=MISSING, fmt="pdf")),
    "receivables.credit": ("receivables.correct", _post("receivables.credit", "receivables.correct", 404,
                                                        document_id=MISSING)),
    "receivables.cancel": ("receivables.correct", _post("receivables.cancel", "receivables.correct", 404,
                                                        document_id=MISSING)),
    "receivables.new_invoice": ("receivables.record", _new("receivables.new_invoice")),
    "receivables.payments": ("receivables.read", _get("receivables.payments", "receivables.read")),
    "receivables.payments_export": ("receivables.read", _payments_export),
    "receivables.new_payment": ("receivables.record", _new("receivables.new_payment")),
    "receivables.payment": ("receivables.read", _get("receivables.payment", "receivables.read", 404,
                                                     payment_id=MISSING)),
    "receivables.allocate": ("receivables.record", _post("receivables.allocate", "receivables.record", 404,
                                                         payment_id=MISSING)),
    "receivables.unreconcile": ("receivables.record", _post("receivables.unreconcile", "receivables.record", 404,
                                                            allocation_id=MISSING)),
    "receivables.assign": ("receivables.record", _post("receivables.assign", "receivables.record", 404,
                                                       payment_id=MISSING)),
    "receivables.refund": ("receivables.correct", _post("receivables.refund", "receivables.correct", 404,
                                                        payment_id=MISSING)),
    "receivables.auto_reconcile": ("receivables.record", lambda i, w: [_probe(
        "receivables.auto_reconcile", "POST", url_for("receivables.auto_reconcile"), "receivables.record", i, 302,
        url_for("receivables.payments"))]),
    "receivables.import_file": ("receivables.record", _get("receivables.import_file", "receivables.record")),
    "receivables.import_preview": ("receivables.record", _post("receivables.import_preview", "receivables.record",
                                                               400)),
    "receivables.import_confirm": ("receivables.record", _post("receivables.import_confirm", "receivables.record",
                                                               404, pending_id=MISSING)),
    "receivables.ledger": ("receivables.read", _ledger),
}
