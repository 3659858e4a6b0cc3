"""Errors that cross the wire, as the server sends them: a stable code and whether to retry."""

from __future__ import annotations

from typing import Any, Optional


class RpcError(Exception):
    """A JSON-RPC error from the server. Match on `code` (`DROVER_E_...`), never on the message."""

    def __init__(self, code: str, message: str, retryable: bool = False, details: Any = None):
        super().__init__(message)
        self.code = code
        self.retryable = retryable
        self.details = details

    @classmethod
    def from_wire(cls, error: dict) -> "RpcError":
        data: Optional[dict] = error.get("data") if isinstance(error.get("data"), dict) else None
        return cls(
            code=str((data or {}).get("code", "DROVER_E_INTERNAL")),
            message=str(error.get("message", "the server answered with an error")),
            retryable=bool((data or {}).get("retryable", False)),
            details=(data or {}).get("details"),
        )


class Disconnected(Exception):
    """The call failed because the connection went away; it may be sent again after a reconnect."""


REFUSALS = ("DROVER_E_UNAUTHORIZED", "DROVER_E_FORBIDDEN")
"""A hello refused with these (and not retryable) stays refused: trying again cannot help."""


def is_final_refusal(error: RpcError) -> bool:
    """A refused token, or one that may not run what this worker offers, stays refused; so does
    a name another worker holds (the same worker coming back is let in), though the code is
    retryable elsewhere."""
    return error.code == "DROVER_E_CONFLICT" or (error.code in REFUSALS and not error.retryable)
