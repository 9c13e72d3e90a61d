"""The cases of issue 15 that were INTERNAL or UNKNOWN, each with its precise status and message now."""

from __future__ import annotations

import grpc
import pytest

from mmsim.v1 import common_pb2, page_allocator_pb2 as pa, page_allocator_pb2_grpc, trace_pb2, trace_pb2_grpc


def _code(fn):
    with pytest.raises(grpc.RpcError) as err:
        fn()
    return err.value.code(), err.value.details()


def test_unknown_gfp_bit_is_invalid_argument_naming_the_field(stack_settings):
    with grpc.insecure_channel(stack_settings.addrs["allocator"]) as ch:
        stub = page_allocator_pb2_grpc.PageAllocatorServiceStub(ch)
        bad = common_pb2.GfpMask(flags=[common_pb2.GFP_FLAG_IO, 2147483647])
        for call in (lambda: stub.AllocPages(pa.AllocPagesRequest(order=0, gfp=bad)),
                     lambda: stub.KvmallocArray(pa.KvmallocArrayRequest(n=2, size=8, gfp=bad))):
            code, details = _code(call)
            assert code == grpc.StatusCode.INVALID_ARGUMENT
            assert details == "gfp.flags: 2147483647 is not a GfpFlag value"
        assert stub.BuddyInfo(pa.BuddyInfoRequest()).text   # still serving


@pytest.mark.parametrize("addr, words", [("", "hops[0].addr is empty"),
                                         ("redis", "is not one of this cluster's services"),
                                         ("127.0.0.1:1", "is not one of this cluster's services")])
def test_echo_relays_only_to_the_clusters_services(stack_settings, addr, words):
    if addr == "redis":
        addr = stack_settings.redis_url.split("://", 1)[1].split("/", 1)[0]   # the Redis port itself
    with grpc.insecure_channel(stack_settings.addrs["rmap"]) as ch:
        stub = trace_pb2_grpc.TraceServiceStub(ch)
        code, details = _code(lambda: stub.Echo(trace_pb2.EchoRequest(hops=[trace_pb2.EchoHop(addr=addr)])))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and words in details, details
        ok = stub.Echo(trace_pb2.EchoRequest(hops=[trace_pb2.EchoHop(addr=stack_settings.addrs["allocator"])]))
        assert ok.hops == 2


@pytest.mark.parametrize("request_, words", [
    (trace_pb2.EchoRequest(hops=[trace_pb2.EchoHop(addr="x")] * 17), "hops: at most 16"),
    (trace_pb2.EchoRequest(payload=b"x" * (64 << 10 | 1)), "payload: at most 65536 bytes"),
    (trace_pb2.EchoRequest(hops=[trace_pb2.EchoHop(redis_round_trips=65)]), "hops[0].redis_round_trips must be at most 64"),
])
def test_echo_is_bounded(stack_settings, request_, words):
    with grpc.insecure_channel(stack_settings.addrs["pagecache"]) as ch:
        code, details = _code(lambda: trace_pb2_grpc.TraceServiceStub(ch).Echo(request_))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and words in details, details
