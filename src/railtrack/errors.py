"""Exceptions shared by the library and its front ends.

Every error a user can cause derives from :class:`RailtrackError`. The CLI turns it into
one line on stderr and the exit code it carries (2 for usage or input errors); the web app
turns it into a 4xx response. Library code never calls ``sys.exit``.
"""

from __future__ import annotations


class RailtrackError(Exception):
    """An error caused by input: bad arguments, unreadable files, invalid manifests."""

    exit_code: int = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class UsageError(RailtrackError):
    """Invalid arguments or options (exit code 2)."""


class InputError(RailtrackError):
    """Invalid or unreadable input data (exit code 2)."""


class NotFoundError(RailtrackError):
    """A named object (license id, model id, key file) does not exist (exit code 2)."""
