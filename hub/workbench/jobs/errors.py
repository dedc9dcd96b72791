"""The jobs service's exception: a request it refuses, with the HTTP status to answer with."""

from __future__ import annotations


class JobError(Exception):
    """A request the service refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
