"""The one table from domain errors to HTTP statuses (portal/edge.py)."""

from __future__ import annotations

import pytest

from portal import errors
from portal.edge import http_status
from portal.integrations.mail import MailError


class _Subclass(errors.Conflict):
    """A domain error the table does not list takes its nearest listed parent's status."""


@pytest.mark.no_db
@pytest.mark.parametrize(("exc", "status"), [
    (errors.ValidationError("amount", "is not a number"), 400),
    (errors.InvalidDiagramError([("Task_1", "no topic")]), 400),
    (errors.AuthenticationError("wrong e-mail or password"), 401),
    (errors.Forbidden("not yours"), 403),
    (errors.NotFound("no task 9"), 404),
    (errors.Conflict("changed meanwhile"), 409),
    (_Subclass("changed meanwhile"), 409),
    (errors.UpstreamError("the server did not answer"), 502),
    (MailError("smtp.example: connection refused"), 502),
    (MailError("to: no mailbox x@y", field="to"), 400),  # refused input the user can fix
    (errors.DomainError("anything else"), 400),
])
def test_each_domain_error_has_one_status(exc, status):
    assert http_status(exc) == status


@pytest.mark.no_db
def test_domain_errors_carry_no_http_status():
    for cls in (errors.DomainError, errors.ValidationError, errors.NotFound, errors.Forbidden, errors.Conflict,
                errors.AuthenticationError, errors.UpstreamError, MailError):
        assert not hasattr(cls, "status"), f"{cls.__name__} decides an HTTP status; the edge's table does that"


@pytest.mark.no_db
def test_a_form_error_lists_every_field():
    exc = errors.ValidationError.of({"amount": "is not a number", "due": "is required"})
    assert (exc.field, exc.message) == ("amount", "is not a number")
    assert exc.errors == {"amount": "is not a number", "due": "is required"}
    assert str(exc) == "amount: is not a number; due: is required"


@pytest.mark.no_db
def test_an_unknown_permission_is_named():
    from portal.security import can

    with pytest.raises(KeyError, match=r"unknown permission 'reports\.nope'"):
        can(None, "reports.nope")
