"""Errors the logic modules raise; ``mmsim.runtime.serve`` maps each to its precise gRPC status.

Logic modules never import grpc: they raise these, and the RPC layer turns them into
INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, RESOURCE_EXHAUSTED or ALREADY_EXISTS with the
message unchanged. A raising operation must have changed no state.
"""

from __future__ import annotations


class MMError(Exception):
    """Base class; ``code`` is the grpc.StatusCode name."""

    code = "UNKNOWN"

    def __init__(self, message: str, errno: str | None = None):
        super().__init__(message)
        self.message = message
        self.errno = errno   # the kernel's errno name ("EBUSY", "ENOMEM", ...) when one is known


class InvalidArgument(MMError):
    code = "INVALID_ARGUMENT"


class NotFound(MMError):
    code = "NOT_FOUND"


class FailedPrecondition(MMError):
    code = "FAILED_PRECONDITION"


class ResourceExhausted(MMError):
    code = "RESOURCE_EXHAUSTED"


class AlreadyExists(MMError):
    code = "ALREADY_EXISTS"


class PermissionDenied(MMError):
    """EPERM (e.g. a MAP_FIXED address below vm.mmap_min_addr)."""

    code = "PERMISSION_DENIED"


class Aborted(MMError):
    """A concurrency conflict the caller resolves by starting over (e.g. a truncate ran meanwhile)."""

    code = "ABORTED"


class OutOfRange(MMError):
    code = "OUT_OF_RANGE"


class Unavailable(MMError):
    """Transient: the caller may retry (e.g. a lock still held when the wait bound ran out)."""

    code = "UNAVAILABLE"


def require(condition: bool, message: str, error: type[MMError] = InvalidArgument, errno: str | None = None) -> None:
    """Raise ``error(message, errno)`` unless condition holds (argument checks read as one line each)."""
    if not condition:
        raise error(message, errno)
