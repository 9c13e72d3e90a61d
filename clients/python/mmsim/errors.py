"""The errors the Python client raises: one class per gRPC status code, all under :class:`MmsimError`.

    from mmsim import errors
    try:
        mm.allocator.alloc_pages(10, "GFP_KERNEL|__GFP_NORETRY")
    except errors.ResourceExhausted as exc:
        print(exc.code, exc.message)      # RESOURCE_EXHAUSTED, the service's message unchanged

The services raise mmsim.runtime.errors on their side and send them as precise gRPC statuses; this module
turns a status back into a class, so callers catch what they mean (``except errors.NotFound``) instead of
comparing ``grpc.StatusCode`` values. Arguments the client refuses before any call (a gfp name it does not
know, prot letters outside "rwx") raise :class:`InvalidArgument` too, with ``code`` INVALID_ARGUMENT.

Every class is also a ``grpc.RpcError`` that answers ``code()`` (a grpc.StatusCode) and ``details()`` as
grpc's own errors do, so code written against the raw stubs (``except grpc.RpcError``) keeps working.
"""

from __future__ import annotations

import grpc


class StatusName(str):
    """A status code name ("NOT_FOUND"); calling it gives the grpc.StatusCode, as grpc.RpcError.code() does."""

    def __call__(self) -> grpc.StatusCode:
        return grpc.StatusCode[self]


class MmsimError(grpc.RpcError):
    """Base class. ``code`` is the gRPC status code name (e.g. "NOT_FOUND"), ``message`` the service's text."""

    code = StatusName("UNKNOWN")

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = StatusName(code)

    def details(self) -> str:
        return self.message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"code": str(self.code), "message": self.message}


class Cancelled(MmsimError):
    code = StatusName("CANCELLED")


class Unknown(MmsimError):
    code = StatusName("UNKNOWN")


class InvalidArgument(MmsimError):
    """The request itself is wrong (a negative size, a bad name, an order above MAX_PAGE_ORDER)."""

    code = StatusName("INVALID_ARGUMENT")


class DeadlineExceeded(MmsimError):
    code = StatusName("DEADLINE_EXCEEDED")


class NotFound(MmsimError):
    """No such file, filesystem, process, page or trace."""

    code = StatusName("NOT_FOUND")


class AlreadyExists(MmsimError):
    code = StatusName("ALREADY_EXISTS")


class PermissionDenied(MmsimError):
    code = StatusName("PERMISSION_DENIED")


class ResourceExhausted(MmsimError):
    """Out of memory (alloc_pages failed), or a per-process limit such as vm.max_map_count."""

    code = StatusName("RESOURCE_EXHAUSTED")


class FailedPrecondition(MmsimError):
    """The state does not allow it (a double free, a killed process, a profile without PFN entries)."""

    code = StatusName("FAILED_PRECONDITION")


class Aborted(MmsimError):
    """A concurrency conflict (e.g. a truncate ran meanwhile): start the operation over."""

    code = StatusName("ABORTED")


class OutOfRange(MmsimError):
    code = StatusName("OUT_OF_RANGE")


class Unimplemented(MmsimError):
    code = StatusName("UNIMPLEMENTED")


class Internal(MmsimError):
    """A bug in mmsim: please report it with the service's log."""

    code = StatusName("INTERNAL")


class Unavailable(MmsimError):
    """The service cannot be reached (is the stack up? `mmsim up`), after the channel's own retries."""

    code = StatusName("UNAVAILABLE")


class DataLoss(MmsimError):
    code = StatusName("DATA_LOSS")


class Unauthenticated(MmsimError):
    code = StatusName("UNAUTHENTICATED")


BY_CODE: dict[str, type[MmsimError]] = {
    cls.code: cls
    for cls in (Cancelled, Unknown, InvalidArgument, DeadlineExceeded, NotFound, AlreadyExists, PermissionDenied,
                ResourceExhausted, FailedPrecondition, Aborted, OutOfRange, Unimplemented, Internal, Unavailable,
                DataLoss, Unauthenticated)
}


def from_status(code: str, message: str) -> MmsimError:
    """The exception for a gRPC status (by its code name)."""
    return BY_CODE.get(code, MmsimError)(message, code)


def from_rpc_error(exc) -> MmsimError:
    """The exception for a ``grpc.RpcError`` raised by a stub call."""
    return from_status(exc.code().name, exc.details() or "")
