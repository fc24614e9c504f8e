"""Domain errors: a stable machine code, a Chinese message for people, and the HTTP status to answer.

Services raise these; the API and the views turn them into a 4xx answer. Nothing that a user
types may end in a 500, so every rule a service enforces raises one of these.
"""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, code: str | None = None, field: str | None = None, details: list | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field = field
        self.details = details or []

    def as_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.details:
            body["details"] = self.details
        return body


class ValidationError(DomainError):
    """Input that breaks a rule: HTTP 400 (or 422 where the API framework says so)."""

    status = 400


class NotFound(DomainError):
    status = 404
    code = "not_found"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"
