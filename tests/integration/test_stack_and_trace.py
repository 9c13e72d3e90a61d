"""The stack as a user drives it: health, the CLI, trace assembly, the echo baseline, bad input to TraceService."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import grpc
import pytest

from mmsim import stack
from mmsim.client import Cluster, new_traceparent
from mmsim.v1 import trace_pb2, trace_pb2_grpc


def _cli(settings, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.env()}
    return subprocess.run([sys.executable, "-m", "mmsim.cli", *args], env=env, capture_output=True, text=True, timeout=60)


def test_every_service_is_serving(stack_settings):
    for name, addr in stack_settings.addrs.items():
        assert stack.health(addr) == "SERVING", name


def test_status_cli_reports_each_service(stack_settings):
    out = _cli(stack_settings, "status", "--json")
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert status["profile"]["name"] == "lsfmm2018" and status["profile"]["populate_policy"] == "fallback"
    rows = {r["name"]: r for r in status["services"]}
    assert set(rows) == {"redis", "allocator", "pagecache", "filesystem", "rmap"}
    assert all(r["health"] == "SERVING" and r["pid"] for r in rows.values())


def test_echo_chain_crosses_every_hop_and_is_traced(stack_settings):
    addrs = stack_settings.addrs
    hops = [trace_pb2.EchoHop(addr=addrs[n], redis_round_trips=1) for n in ("pagecache", "filesystem", "allocator")]
    trace_id, traceparent = new_traceparent()
    with grpc.insecure_channel(addrs["rmap"]) as ch:
        resp = trace_pb2_grpc.TraceServiceStub(ch).Echo(
            trace_pb2.EchoRequest(redis_round_trips=2, hops=hops, payload=b"ping"), metadata=[("traceparent", traceparent)])
    assert resp.payload == b"ping" and resp.hops == 4
    with Cluster.connect(stack_settings) as mm:
        tree = mm.trace(trace_id)
    assert tree.hops == 4
    assert tree.redis_round_trips == 2 + 3
    assert [s.service for s in tree.spans] == ["rmap", "pagecache", "filesystem", "allocator"]
    # each span's parent is the previous hop's span: one chain, one root
    assert len(tree.roots) == 1
    for parent, child in zip(tree.spans, tree.spans[1:]):
        assert child.parent_span_id == parent.span_id
    out = _cli(stack_settings, "trace", "show", trace_id)
    assert out.returncode == 0, out.stderr
    assert "TraceService/Echo" in out.stdout and "redis x2" in out.stdout


@pytest.mark.parametrize("bad, code", [("xyz", grpc.StatusCode.INVALID_ARGUMENT),
                                       ("0" * 32, grpc.StatusCode.INVALID_ARGUMENT),
                                       ("f" * 32, grpc.StatusCode.NOT_FOUND)])
def test_get_trace_bad_input(stack_settings, bad, code):
    with grpc.insecure_channel(stack_settings.addrs["pagecache"]) as ch:
        stub = trace_pb2_grpc.TraceServiceStub(ch)
        with pytest.raises(grpc.RpcError) as err:
            stub.GetTrace(trace_pb2.GetTraceRequest(trace_id=bad))
        assert err.value.code() == code
        assert stub.ListTraces(trace_pb2.ListTracesRequest(limit=1)) is not None  # still serving


def test_echo_refuses_absurd_round_trips(stack_settings):
    with grpc.insecure_channel(stack_settings.addrs["allocator"]) as ch:
        with pytest.raises(grpc.RpcError) as err:
            trace_pb2_grpc.TraceServiceStub(ch).Echo(trace_pb2.EchoRequest(redis_round_trips=1000))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "at most 64" in err.value.details()


def test_services_log_json_lines_with_trace_context(stack_settings):
    trace_id, traceparent = new_traceparent()
    with grpc.insecure_channel(stack_settings.addrs["filesystem"]) as ch:
        trace_pb2_grpc.TraceServiceStub(ch).Echo(trace_pb2.EchoRequest(redis_round_trips=3), metadata=[("traceparent", traceparent)])
    log = stack.Paths(__import__("pathlib").Path(stack_settings.state_dir)).logfile("filesystem")
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    mine = [entry for entry in lines if entry.get("trace_id") == trace_id]
    assert len(mine) == 1
    entry = mine[0]
    assert entry["service"] == "filesystem" and entry["rpc"].endswith("TraceService/Echo")
    assert entry["redis_round_trips"] == 3 and entry["status"] == "OK"
    assert len(entry["span_id"]) == 16 and len(entry["parent_span_id"]) == 16
    assert entry["parent_span_id"] == traceparent.split("-")[2]
    assert "duration_ms" in entry and "timestamp" in entry
