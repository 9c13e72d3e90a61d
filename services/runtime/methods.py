"""Every RPC by its full gRPC name, and which of them only inspect (read from one place: the protos).

An RPC declared ``option idempotency_level = NO_SIDE_EFFECTS`` in protos/mmsim/v1 is an inspection (GetPage,
/proc files, stats, dumps, traces): the client sends it no request id and does not ask for a trace, and
the services' sampler records no trace for it unless the caller's traceparent is sampled. Faults are the
RPCs that start the traces `mmsim trace last` shows by default.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2

from mmsim.v1 import check_pb2, filesystem_pb2, page_allocator_pb2, page_cache_pb2, reverse_map_pb2, trace_pb2

# the generated module of each service, by the short names of config.SERVICES (+ "trace" and "check", served by all)
MODULES = {"allocator": page_allocator_pb2, "pagecache": page_cache_pb2, "filesystem": filesystem_pb2,
           "rmap": reverse_map_pb2, "trace": trace_pb2, "check": check_pb2}
_FILES = tuple(MODULES.values())
_NO_SIDE_EFFECTS = descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS
_IDEMPOTENT = descriptor_pb2.MethodOptions.IDEMPOTENT

# "/mmsim.v1.PageAllocatorService/GetPage" -> True (inspection) / False (changes state)
INSPECTION = {
    f"/{svc.full_name}/{m.name}": m.GetOptions().idempotency_level == _NO_SIDE_EFFECTS
    for mod in _FILES for svc in mod.DESCRIPTOR.services_by_name.values() for m in svc.methods
}
# RPCs declared IDEMPOTENT: a retry has the same effect as the first call (truncating, tagging, cleaning or
# unmapping a range twice leaves the state it left once), so they need no stored reply
IDEMPOTENT = frozenset(
    f"/{svc.full_name}/{m.name}"
    for mod in _FILES for svc in mod.DESCRIPTOR.services_by_name.values() for m in svc.methods
    if m.GetOptions().idempotency_level == _IDEMPOTENT
)
FAULTS = frozenset({"/mmsim.v1.ReverseMapService/HandleFault", "/mmsim.v1.PageCacheService/Fault"})
SERVICE_NAMES = [svc.full_name for mod in _FILES for svc in mod.DESCRIPTOR.services_by_name.values()]


def full_name(service: str, method: str) -> str:
    """("allocator", "GetPage") -> "/mmsim.v1.PageAllocatorService/GetPage"."""
    (svc,) = MODULES[service].DESCRIPTOR.services_by_name.values()
    return f"/{svc.full_name}/{method}"


def is_inspection(full: str) -> bool:
    return INSPECTION.get(full, False)
