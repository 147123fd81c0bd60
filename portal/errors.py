"""Domain exceptions raised by services; the web layer maps them to HTTP answers."""

from __future__ import annotations


class DomainError(Exception):
    """Base class of errors a user can act on."""

    status = 400


class ValidationError(DomainError):
    """Input is wrong; `field` names what to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class AuthenticationError(DomainError):
    """Wrong credentials or code; deliberately vague about which part was wrong."""

    status = 401


class InvalidDiagramError(DomainError):
    """A BPMN diagram cannot be deployed; `problems` lists (element id, reason) for every problem."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{element or 'diagram'}: {reason}" for element, reason in problems))
        self.problems = problems
