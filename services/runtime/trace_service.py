"""TraceService, served by every service: spans from Redis, recent traces, and the echo baseline."""

from __future__ import annotations

from google.protobuf import json_format

from mmsim.runtime import keys
from mmsim.runtime.errors import NotFound, require
from mmsim.runtime.lua import Spec, SpecScript
from mmsim.v1 import trace_pb2, trace_pb2_grpc


MAX_ECHO_HOPS = 16                 # a chain longer than any path through the four services, twice over
MAX_ECHO_PAYLOAD = 64 << 10        # bytes
MAX_ECHO_ROUND_TRIPS = 64          # Redis round trips per hop

ECHO_WRITE = SpecScript(Spec("echo_write", keys=("counter",), replies={"ok": ("n:int",)}), __file__)
"""One durable write of the echo baseline (echo_write.lua)."""


def check_echo(request, own_addrs: set[str]) -> None:
    """Echo relays only along the cluster's own service addresses (never to whatever a caller names: that
    would make every service a proxy into its network, the Redis port included), with bounded hops,
    payload and round trips."""
    require(len(request.hops) <= MAX_ECHO_HOPS, f"hops: at most {MAX_ECHO_HOPS}, got {len(request.hops)}")
    require(len(request.payload) <= MAX_ECHO_PAYLOAD,
            f"payload: at most {MAX_ECHO_PAYLOAD} bytes, got {len(request.payload)}")
    for i, hop in enumerate([request, *request.hops]):
        name = "redis_round_trips" if i == 0 else f"hops[{i - 1}].redis_round_trips"
        require(hop.redis_round_trips <= MAX_ECHO_ROUND_TRIPS,
                f"{name} must be at most {MAX_ECHO_ROUND_TRIPS}, got {hop.redis_round_trips}")
    for i, hop in enumerate(request.hops):
        require(hop.addr != "", f"hops[{i}].addr is empty (give a service address: {', '.join(sorted(own_addrs))})")
        require(hop.addr in own_addrs,
                f"hops[{i}].addr {hop.addr!r} is not one of this cluster's services ({', '.join(sorted(own_addrs))})")


def _is_trace_id(text: str) -> bool:
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text) and text != "0" * 32


class TraceServicer(trace_pb2_grpc.TraceServiceServicer):
    def __init__(self, ctx):
        self._ctx = ctx

    async def GetTrace(self, request, context):
        require(_is_trace_id(request.trace_id), f"trace_id must be 32 lowercase hex digits, got {request.trace_id!r}")
        raw = await self._ctx.redis.lrange(keys.trace(request.trace_id), 0, -1)
        if not raw:
            raise NotFound(f"no spans recorded for trace {request.trace_id}")
        spans = [json_format.Parse(r, trace_pb2.Span(), ignore_unknown_fields=True) for r in raw]
        spans.sort(key=lambda s: s.start_unix_ms)
        return trace_pb2.GetTraceResponse(spans=spans)

    async def ListTraces(self, request, context):
        limit = request.limit or 20
        require(limit <= 1000, f"limit must be at most 1000, got {limit}")
        require(request.kind in trace_pb2.TraceKind.values(), f"kind must be a known TraceKind, got {request.kind}")
        index = keys.TRACE_FAULT_INDEX if request.kind == trace_pb2.TRACE_KIND_FAULT else keys.TRACE_INDEX
        ids = await self._ctx.redis.zrevrange(index, 0, limit - 1)
        return trace_pb2.ListTracesResponse(trace_ids=[i.decode() for i in ids])

    async def Echo(self, request, context):
        """One hop of the baseline chain: N Redis round trips (PINGs, or durable writes), then the next hop."""
        check_echo(request, set(self._ctx.settings.addrs.values()))
        for _ in range(request.redis_round_trips):
            if request.writes:
                await ECHO_WRITE(self._ctx.redis, counter=keys.cluster("echo"))
            else:
                await self._ctx.redis.ping()
        if not request.hops:
            return trace_pb2.EchoResponse(payload=request.payload, hops=1)
        nxt = request.hops[0]
        reply = await self._ctx.peers.trace_stub(nxt.addr).Echo(
            trace_pb2.EchoRequest(redis_round_trips=nxt.redis_round_trips, hops=list(request.hops[1:]),
                                  payload=request.payload, writes=nxt.writes)
        )
        return trace_pb2.EchoResponse(payload=reply.payload, hops=reply.hops + 1)


def register(server, ctx) -> list[str]:
    trace_pb2_grpc.add_TraceServiceServicer_to_server(TraceServicer(ctx), server)
    return [trace_pb2.DESCRIPTOR.services_by_name["TraceService"].full_name]
