"""gRPC channels to the other services, with trace-context, memalloc-scope and request-id propagation.

A call to a peer that answers UNAVAILABLE (its Redis was unreachable, it is restarting, the request id is
still running) is retried by gRPC itself (channels.RETRY_POLICY, the service config of every channel); mutating calls
carry a request id (mmsim.runtime.idempotency), so a retry never runs one twice.

Each call also carries ``mmsim-caller`` (the calling service: the callee's span is then not the entry of
its trace) and is counted for the current RPC (``start_counting_calls``): a span records how many child
calls its handler made, so a reader knows a trace is complete when every span has that many children.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

import grpc
from opentelemetry import propagate

from mmsim.runtime import channels, config, idempotency, scope
from mmsim.v1 import trace_pb2_grpc


def request_id_for(method: str, request: bytes) -> str | None:
    """The request id of a call to a peer, derived from the request id of the RPC being served and from the
    serialized request (so a retried parent re-sends the same ids for the same requests). None when that RPC
    has none: a read, or the fault path, which is retry-safe by construction and keeps its round-trip budget
    (mmsim.runtime.idempotency.EXEMPT)."""
    parent = idempotency.current()
    return parent.child_id(method, request) if parent is not None else None

CALLER_KEY = "mmsim-caller"


@dataclass
class ChildCalls:
    count: int = 0


_calls: contextvars.ContextVar[ChildCalls | None] = contextvars.ContextVar("mmsim_child_calls", default=None)


def start_counting_calls() -> ChildCalls:
    """Begin a fresh count of outgoing calls for the current task (one RPC)."""
    counter = ChildCalls()
    _calls.set(counter)
    return counter


class _ContextInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Sends the current span's W3C trace context, the memalloc scope, the held locks and a request id with
    every call.

    The callee's server span becomes a child of this RPC's server span: one span per hop, no client
    spans in between, so a trace reads as the chain of services it crossed.
    """

    def __init__(self, caller: str):
        self._caller = caller

    async def intercept_unary_unary(self, continuation, details, request):
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        metadata = outgoing_metadata(self._caller, method, request.SerializeToString(deterministic=True),
                                     details.metadata)
        return await continuation(details._replace(metadata=metadata), request)


def outgoing_metadata(caller: str, method: str, request: bytes, metadata=()) -> list[tuple[str, str]]:
    """The metadata of a call to a peer (counted for the current RPC) sending the serialized ``request``: the
    caller's own metadata, the W3C trace context, the caller's name, the request id, the memalloc scope and
    the held locks."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    out = [*(metadata or ()), *carrier.items(), (CALLER_KEY, caller)]
    rid = request_id_for(method, request)
    if rid is not None:
        out.append((idempotency.METADATA_KEY, rid))
    counter = _calls.get()
    if counter is not None:
        counter.count += 1
    flags, held = scope.current(), scope.held_locks()
    if flags:
        out.append((scope.METADATA_KEY, scope.encode(flags)))
    if held:
        out.append((scope.HELD_LOCKS_KEY, scope.encode_held(held)))
    return out


def open_channel(addr: str, caller: str = "mmsim") -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(addr, interceptors=[_ContextInterceptor(caller)],
                                     options=channels.CHANNEL_OPTIONS)


class Peers:
    """Lazily opened stubs for the services named in config.SERVICES (plus their TraceService), each made
    once per address: a generated stub builds a callable per method of its service (about 40 µs for the
    page cache's), which a fault's every hop paid again."""

    def __init__(self, settings: config.Settings, caller: str = "mmsim"):
        self._settings = settings
        self._caller = caller
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._stubs: dict[tuple[str, str], object] = {}

    def channel(self, addr: str) -> grpc.aio.Channel:
        if addr not in self._channels:
            self._channels[addr] = open_channel(addr, self._caller)
        return self._channels[addr]

    def _stub(self, service: str, addr: str):
        if (service, addr) not in self._stubs:
            self._stubs[service, addr] = channels.stub_class(service)(self.channel(addr))
        return self._stubs[service, addr]

    def stub(self, service: str):
        return self._stub(service, self._settings.addrs[service])

    def trace_stub(self, addr: str) -> trace_pb2_grpc.TraceServiceStub:
        return self._stub("trace", addr)

    async def close(self) -> None:
        for ch in self._channels.values():
            await ch.close()
        self._channels.clear()
        self._stubs.clear()
