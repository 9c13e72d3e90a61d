"""OTLP export, proven: service processes started with OTEL_EXPORTER_OTLP_ENDPOINT send their spans over
OTLP/gRPC to a receiver this test runs in-process (the opentelemetry-proto collector TraceService).

This is what `compose.observability.yaml` relies on to put the spans into Jaeger; Jaeger itself cannot be
pulled here, so the receiver stands in for it. Everything stays on 127.0.0.1; processes are stopped by PID.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from concurrent import futures

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from mmsim import stack
from mmsim.client import new_traceparent
from mmsim.runtime.redis_server import free_port
from mmsim.v1 import trace_pb2, trace_pb2_grpc

SERVICES = ("pagecache", "filesystem")  # the Echo chain goes pagecache -> filesystem


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """opentelemetry.proto.collector.trace.v1.TraceService/Export: keeps every span it is sent."""

    def __init__(self):
        self.lock = threading.Lock()
        self.spans: dict[str, list[tuple[str, str, str, str]]] = defaultdict(list)  # trace id -> spans
        self.requests = 0

    def Export(self, request, context):
        with self.lock:
            self.requests += 1
            for rs in request.resource_spans:
                attrs = {a.key: a.value.string_value for a in rs.resource.attributes}
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        self.spans[span.trace_id.hex()].append(
                            (attrs.get("service.name", ""), span.name, span.span_id.hex(), span.parent_span_id.hex()))
        return trace_service_pb2.ExportTraceServiceResponse()

    def wait_for(self, trace_id: str, count: int, timeout: float) -> list[tuple[str, str, str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                got = list(self.spans.get(trace_id, ()))
            if len(got) >= count:
                return got
            time.sleep(0.05)
        with self.lock:
            return list(self.spans.get(trace_id, ()))


@pytest.fixture()
def receiver():
    port = free_port()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer = Receiver()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)
    assert server.add_insecure_port(f"127.0.0.1:{port}") == port
    server.start()
    try:
        yield servicer, f"http://127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


def test_spans_arrive_at_an_otlp_receiver(stack_settings, receiver, tmp_path, monkeypatch):
    servicer, endpoint = receiver
    # a second set of services on the session's Redis, exporting to the receiver; the BatchSpanProcessor of the
    # OTLP exporter flushes every 200 ms here (OTEL_BSP_SCHEDULE_DELAY) instead of the 5 s default
    settings = stack.replica_settings(stack_settings, str(tmp_path / "otlp"),
                                      OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)
    assert settings.otlp_endpoint == endpoint
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")  # inherited by the service processes
    stack.services_up(settings, names=SERVICES, timeout=60, tied=True)
    try:
        trace_id, traceparent = new_traceparent()
        caller_span = traceparent.split("-")[2]
        hop = trace_pb2.EchoHop(addr=settings.addrs["filesystem"], redis_round_trips=1)
        with grpc.insecure_channel(settings.addrs["pagecache"]) as ch:
            resp = trace_pb2_grpc.TraceServiceStub(ch).Echo(
                trace_pb2.EchoRequest(redis_round_trips=1, hops=[hop], payload=b"otlp"),
                metadata=[("traceparent", traceparent)], timeout=30)
        assert resp.hops == 2
        spans = servicer.wait_for(trace_id, 2, timeout=120)   # a bound on a loaded machine
        assert servicer.requests >= 1, "the receiver got no Export call at all"
        by_service = {svc: (name, sid, parent) for svc, name, sid, parent in spans}
        assert set(by_service) == {"mmsim-pagecache", "mmsim-filesystem"}, spans
        name, pc_span, pc_parent = by_service["mmsim-pagecache"]
        assert name.endswith("TraceService/Echo")
        assert pc_parent == caller_span                      # continued the client's traceparent
        name, _, fs_parent = by_service["mmsim-filesystem"]
        assert name.endswith("TraceService/Echo")
        assert fs_parent == pc_span                          # one span per hop, linked across processes
        # services_up polled grpc.health.v1 Health/Check many times: probes are not traced (tracing.SkipProbes)
        with servicer.lock:
            names = {name for spans_ in servicer.spans.values() for _, name, _, _ in spans_}
        assert not any(n.startswith("/grpc.health") for n in names), names
    finally:
        stack.services_down(settings, names=SERVICES)
