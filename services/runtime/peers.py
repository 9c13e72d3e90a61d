"""gRPC channels to the other services, with trace-context and memalloc-scope propagation."""

from __future__ import annotations

import grpc
from opentelemetry import propagate

from mmsim.runtime import config, scope
from mmsim.v1 import (
    filesystem_pb2_grpc,
    page_allocator_pb2_grpc,
    page_cache_pb2_grpc,
    reverse_map_pb2_grpc,
    trace_pb2_grpc,
)

STUBS = {
    "allocator": page_allocator_pb2_grpc.PageAllocatorServiceStub,
    "pagecache": page_cache_pb2_grpc.PageCacheServiceStub,
    "filesystem": filesystem_pb2_grpc.FilesystemServiceStub,
    "rmap": reverse_map_pb2_grpc.ReverseMapServiceStub,
}


class _ContextInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Sends the current span's W3C trace context, the memalloc scope and the held locks with every call.

    The callee's server span becomes a child of this RPC's server span: one span per hop, no client
    spans in between, so a trace reads as the chain of services it crossed.
    """

    async def intercept_unary_unary(self, continuation, details, request):
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        metadata = list(details.metadata or ()) + list(carrier.items())
        flags, held = scope.current(), scope.held_locks()
        if flags:
            metadata.append((scope.METADATA_KEY, scope.encode(flags)))
        if held:
            metadata.append((scope.HELD_LOCKS_KEY, scope.encode_held(held)))
        return await continuation(details._replace(metadata=metadata), request)


# A restarted peer is reachable again within a second: gRPC's default reconnect backoff grows to 120 s.
CHANNEL_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.min_reconnect_backoff_ms", 100),
                   ("grpc.max_reconnect_backoff_ms", 1000)]


def open_channel(addr: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(addr, options=CHANNEL_OPTIONS, interceptors=[_ContextInterceptor()])


class Peers:
    """Lazily opened stubs for the services named in config.SERVICES (plus their TraceService)."""

    def __init__(self, settings: config.Settings):
        self._settings = settings
        self._channels: dict[str, grpc.aio.Channel] = {}

    def channel(self, addr: str) -> grpc.aio.Channel:
        if addr not in self._channels:
            self._channels[addr] = open_channel(addr)
        return self._channels[addr]

    def stub(self, service: str):
        return STUBS[service](self.channel(self._settings.addrs[service]))

    def trace_stub(self, addr: str) -> trace_pb2_grpc.TraceServiceStub:
        return trace_pb2_grpc.TraceServiceStub(self.channel(addr))

    async def close(self) -> None:
        for ch in self._channels.values():
            await ch.close()
        self._channels.clear()
