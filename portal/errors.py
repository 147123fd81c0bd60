"""Domain exceptions raised by services; the edges map them to answers (portal/edge.py's HTTP_STATUS table)."""

from __future__ import annotations


class DomainError(Exception):
    """Base class of errors a user can act on."""


class ValidationError(DomainError):
    """Input is wrong; `errors` maps every field to fix to what is wrong with it (`field`, `message`: the first)."""

    def __init__(self, field: str, message: str, errors: dict[str, str] | None = None):
        self.errors = dict(errors) if errors else {field: message}
        super().__init__("; ".join(f"{name}: {text}" for name, text in self.errors.items()))
        self.field = field
        self.message = message

    @classmethod
    def of(cls, errors: dict[str, str]) -> ValidationError:
        """One error for several bad fields (a form checked as a whole)."""
        field, message = next(iter(errors.items()))
        return cls(field, message, errors)


class NotFound(DomainError):
    pass


class Forbidden(DomainError):
    pass


class Conflict(DomainError):
    pass


class AuthenticationError(DomainError):
    """Wrong credentials or code; deliberately vague about which part was wrong (`reason`, for the audit, is not)."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


class UpstreamError(DomainError):
    """Another system (mail server, call-logging system, customer's portal) failed or refused the call."""


class InvalidDiagramError(DomainError):
    """A BPMN diagram cannot be deployed; `problems` lists (element id, reason) for every problem."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{element or 'diagram'}: {reason}" for element, reason in problems))
        self.problems = problems
