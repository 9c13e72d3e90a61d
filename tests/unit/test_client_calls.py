"""What the client puts on the wire and how it reads answers, without a stack (the stubs are fakes): request
ids and sampled trace contexts on mutating calls only, gfp names, gRPC statuses as mmsim.errors classes,
the retry policy given to grpc, results' to_dict, trace completeness."""

from __future__ import annotations

import json

import grpc
import pytest

from mmsim import errors
from mmsim.client import CHANNEL_OPTIONS, REQUEST_ID_KEY, Cluster, FaultResult, Filesystem, gfp_mask
from mmsim.runtime import config, methods
from mmsim.runtime.vmfault import VmFault
from mmsim.traceview import TraceTree
from mmsim.v1 import filesystem_pb2 as fs_pb
from mmsim.v1 import page_allocator_pb2 as pa_pb
from mmsim.v1 import trace_pb2


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str):
        self._code, self._details = code, details

    def code(self):
        return self._code

    def details(self):
        return self._details


class Recorder:
    """A stub whose every method records its metadata and answers ``reply`` (or raises it)."""

    def __init__(self, reply):
        self.reply, self.calls = reply, []

    def __getattr__(self, method):
        def call(request, timeout, metadata):
            self.calls.append((method, dict(metadata)))
            if isinstance(self.reply, Exception):
                raise self.reply
            return self.reply
        return call


@pytest.fixture()
def mm():
    cluster = Cluster(config.load({}))
    yield cluster
    cluster.close()


def test_mutating_calls_carry_a_request_id_and_a_sampled_trace(mm):
    stub = mm.stubs["filesystem"] = Recorder(fs_pb.CreateResponse(mapping="xfs0/1", ino=1))
    fs = Filesystem(mm, "xfs0", 4096, "lsfmm2018")
    fs.create("/a")
    fs.create("/b")
    (m1, md1), (m2, md2) = stub.calls
    assert m1 == m2 == "Create"
    assert md1[REQUEST_ID_KEY] != md2[REQUEST_ID_KEY] and len(md1[REQUEST_ID_KEY]) == 32
    assert md1["traceparent"].endswith("-01") and md2["traceparent"].endswith("-01")
    assert md2["traceparent"].split("-")[1] == mm.last_trace_id


def test_inspection_calls_carry_no_request_id_and_are_not_sampled(mm):
    stub = mm.stubs["allocator"] = Recorder(pa_pb.VmStatResponse(values={"nr_free_pages": 7}))
    before = mm.last_trace_id
    assert mm.vmstat() == {"nr_free_pages": 7}
    ((method, md),) = stub.calls
    assert method == "VmStat" and REQUEST_ID_KEY not in md and md["traceparent"].endswith("-00")
    assert mm.last_trace_id == before                    # inspection is not "the last operation"
    traced = Cluster(config.load({}), trace_inspection=True)
    traced.stubs["allocator"] = stub
    traced.vmstat()
    assert stub.calls[-1][1]["traceparent"].endswith("-01")
    traced.close()


def test_the_proto_marks_exactly_the_inspection_rpcs():
    inspect = {name for name, yes in methods.INSPECTION.items() if yes}
    assert "/mmsim.v1.PageAllocatorService/GetPage" in inspect and "/mmsim.v1.TraceService/GetTrace" in inspect
    assert "/mmsim.v1.ReverseMapService/HandleFault" not in inspect and "/mmsim.v1.FilesystemService/Read" not in inspect
    assert methods.FAULTS <= set(methods.INSPECTION)


@pytest.mark.parametrize("code,cls", [
    (grpc.StatusCode.NOT_FOUND, errors.NotFound), (grpc.StatusCode.INVALID_ARGUMENT, errors.InvalidArgument),
    (grpc.StatusCode.ALREADY_EXISTS, errors.AlreadyExists), (grpc.StatusCode.FAILED_PRECONDITION, errors.FailedPrecondition),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, errors.ResourceExhausted), (grpc.StatusCode.UNAVAILABLE, errors.Unavailable),
    (grpc.StatusCode.ABORTED, errors.Aborted), (grpc.StatusCode.OUT_OF_RANGE, errors.OutOfRange),
    (grpc.StatusCode.DEADLINE_EXCEEDED, errors.DeadlineExceeded), (grpc.StatusCode.INTERNAL, errors.Internal),
])
def test_statuses_become_error_classes(mm, code, cls):
    mm.stubs["allocator"] = Recorder(FakeRpcError(code, "what went wrong"))
    with pytest.raises(cls) as err:
        mm.allocator.alloc_pages(0)
    assert isinstance(err.value, errors.MmsimError) and err.value.code == code.name
    assert err.value.message == "what went wrong" and str(err.value) == f"{code.name}: what went wrong"
    assert isinstance(err.value, grpc.RpcError) and err.value.code() == code and err.value.details() == "what went wrong"
    with pytest.raises(grpc.RpcError) as raw:            # the raw escape hatch stays raw
        mm.call("allocator", "AllocPages", pa_pb.AllocPagesRequest())
    assert not isinstance(raw.value, errors.MmsimError)


def test_gfp_names_and_bad_names():
    assert gfp_mask("GFP_KERNEL|__GFP_NOWARN") == gfp_mask(0xcc0 | 0x2000) == gfp_mask("0x2cc0")
    for bad in ("GFP_NOPE", -1, 1 << 40):
        with pytest.raises(errors.InvalidArgument):
            gfp_mask(bad)


def test_retry_is_grpcs_service_config_for_unavailable_only():
    opts = dict(CHANNEL_OPTIONS)
    assert opts["grpc.enable_retries"] == 1
    (cfg,) = json.loads(opts["grpc.service_config"])["methodConfig"]
    assert cfg["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"] and cfg["retryPolicy"]["maxAttempts"] > 1
    assert cfg["name"] == [{}]                          # the default method config: every method of every service


def test_fault_result_outcome_and_json():
    base = dict(pfn=5, folio_pfn=4, folio_order=2, pages_mapped=4, pages_mapped_around=0, major=False, spurious=False,
                trace_id="t")
    cases = [(VmFault.MAJOR | VmFault.LOCKED, dict(major=True), "major"), (VmFault.LOCKED, {}, "minor"),
             (VmFault.NOPAGE, dict(spurious=True), "spurious"), (VmFault.NOPAGE, dict(zero_page=True, pfn=0), "zero-page"),
             (VmFault.LOCKED, dict(pinned=True), "pinned"), (VmFault.SIGSEGV, {}, "sigsegv"),
             (VmFault.SIGBUS, {}, "sigbus"), (VmFault.OOM, {}, "oom")]
    for vmf, extra, outcome in cases:
        r = FaultResult(vm_fault=vmf, **{**base, **extra})
        d = json.loads(json.dumps(r.to_dict()))
        assert r.outcome == outcome and d["outcome"] == outcome and d["ok"] == (outcome not in ("sigsegv", "sigbus", "oom"))
        assert d["vm_fault"] == vmf.names() and isinstance(d["pfn"], int)


def _span(span_id, parent="", calls=0, entry=False):
    return trace_pb2.Span(trace_id="a" * 32, span_id=span_id, parent_span_id=parent, child_calls=calls, entry=entry)


def test_a_trace_is_complete_when_the_entry_span_has_all_its_descendants():
    root, pc, fs, alloc = _span("r", "client", 1, True), _span("p", "r", 1), _span("f", "p", 1), _span("a", "f")
    assert TraceTree([root, pc, fs, alloc]).complete
    assert not TraceTree([pc, fs, alloc]).complete          # the entry span is not in yet
    assert not TraceTree([root, pc, fs]).complete           # the allocator's span is missing
    assert not TraceTree([]).complete


def test_trace_json_types_numbers_and_renders_events():
    s = _span("r", "client", 0, True)
    s.attributes["order"], s.attributes["write"], s.attributes["mapping"] = "9", "False", "xfs0/1"
    s.events.add(name="lockdep", attributes={"report": "possible recursive locking"})
    tree = TraceTree([s])
    d = json.loads(tree.to_json())
    assert d["spans"][0]["attributes"] == {"order": 9, "write": False, "mapping": "xfs0/1"} and d["complete"]
    assert "! lockdep: report=possible recursive locking" in tree.render()
