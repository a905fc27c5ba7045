"""Errors a user can act on. Each carries a machine-readable code and the CLI exit code it maps to."""

from __future__ import annotations


class DbsageError(Exception):
    """Base of every error dbsage raises on purpose. The message says what to do."""

    code = "error"
    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def as_dict(self) -> dict[str, str]:
        out = {"error": self.code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        return out

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputError(DbsageError):
    """The call itself is wrong: a bad argument, an unreadable file, SQL that does not parse."""

    code = "invalid_input"
    exit_code = 2


class ConfigError(DbsageError):
    """The configuration file or a named database is wrong or missing."""

    code = "configuration"
    exit_code = 2


class ConnectionFailed(DbsageError):
    """The database could not be reached or refused the login."""

    code = "unreachable"
    exit_code = 3


class GuardRefused(DbsageError):
    """The access guard refused a statement; the message names the reason."""

    code = "refused"
    exit_code = 2

    def __init__(self, message: str, *, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason

    def as_dict(self) -> dict[str, str]:
        out = super().as_dict()
        out["reason"] = self.reason
        return out


class QueryFailed(DbsageError):
    """The database answered a statement with an error (message redacted)."""

    code = "query_failed"
    exit_code = 2
