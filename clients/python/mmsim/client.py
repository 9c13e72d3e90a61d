"""The Python client: drive a running mmsim cluster over gRPC.

    from mmsim.client import Cluster
    with Cluster.connect() as mm:
        fs = mm.mkfs("xfs0", block_size=16384)
        f = fs.create("/data/a")
        f.write(0, b"hello" * 1000)
        proc = mm.spawn("reader")
        vma = proc.mmap(f, length=1 << 20, prot="r", shared=True)
        r = proc.fault(vma.start + 4096)      # FaultResult: vm_fault flags, pfn, folio order, trace_id
        print(mm.trace(r.trace_id))           # the span tree across services

Every call starts a new W3C trace (a ``traceparent`` in the gRPC metadata); the id is kept on the result
(``trace_id``) or in ``Cluster.last_trace_id``. The client needs only the services' gRPC ports.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

import grpc

from mmsim.runtime import config
from mmsim.runtime.peers import CHANNEL_OPTIONS, STUBS
from mmsim.runtime.vmfault import VmFault
from mmsim.traceview import TraceTree
from mmsim.v1 import (
    check_pb2,
    check_pb2_grpc,
    filesystem_pb2,
    page_allocator_pb2,
    page_cache_pb2,
    reverse_map_pb2,
    trace_pb2,
    trace_pb2_grpc,
)

PAGE_SIZE = 4096
_PROT = {"r": reverse_map_pb2.PROT_READ, "w": reverse_map_pb2.PROT_WRITE, "x": reverse_map_pb2.PROT_EXEC}


def new_traceparent() -> tuple[str, str]:
    """(trace_id, traceparent header) for a fresh sampled W3C trace."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, f"00-{trace_id}-{span_id}-01"


@dataclass(frozen=True)
class Violation:
    """One broken invariant from ``Cluster.check()``: the rule, the service that found it, the pfn or key."""

    rule: str
    service: str
    pfn: int
    key: str
    message: str

    def to_dict(self) -> dict:
        return {"rule": self.rule, "service": self.service, "pfn": self.pfn, "key": self.key, "message": self.message}


@dataclass(frozen=True)
class CheckReport:
    violations: list[Violation]
    owners: dict[str, int]       # pages per owner kind (buddy, page_cache, anon, vmalloc, in_flight, caller)
    checked: dict[str, int]      # objects examined per kind
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict:
        return {"violations": [v.to_dict() for v in self.violations], "owners": self.owners,
                "checked": self.checked, "truncated": self.truncated}


@dataclass(frozen=True)
class FaultResult:
    vm_fault: VmFault           # handle_mm_fault's result
    pfn: int                    # pfn mapped at the address (0 when nothing was mapped)
    folio_pfn: int              # head pfn of the folio
    folio_order: int            # order of the folio (0 = 4 KiB)
    pages_mapped: int           # PTEs this fault installed for the faulting folio
    pages_mapped_around: int    # PTEs fault-around installed for cached neighbours (filemap_map_pages)
    major: bool                 # counted in pgmajfault
    spurious: bool              # PTE was already present
    trace_id: str               # W3C trace id of this fault

    @property
    def ok(self) -> bool:
        from mmsim.runtime.vmfault import VM_FAULT_ERROR  # noqa: PLC0415

        return not (self.vm_fault & VM_FAULT_ERROR)


@dataclass(frozen=True)
class Vma:
    start: int                  # vm_start (bytes)
    end: int                    # vm_end (bytes, exclusive)
    file: "File"

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass
class File:
    cluster: "Cluster"
    fs: "Filesystem"
    path: str
    mapping: str                # "FS/INO"

    def write(self, offset: int, data: bytes) -> int:
        return self.cluster._call("filesystem", "Write", filesystem_pb2.WriteRequest(mapping=self.mapping, offset=offset, data=data)).written

    def read(self, offset: int, length: int) -> bytes:
        return self.cluster._call("filesystem", "Read", filesystem_pb2.ReadRequest(mapping=self.mapping, offset=offset, length=length)).data

    def stat(self) -> filesystem_pb2.StatResponse:
        return self.cluster._call("filesystem", "Stat", filesystem_pb2.StatRequest(mapping=self.mapping))

    def fsync(self) -> filesystem_pb2.FsyncResponse:
        return self.cluster._call("filesystem", "Fsync", filesystem_pb2.FsyncRequest(mapping=self.mapping))

    def truncate(self, size: int) -> filesystem_pb2.TruncateResponse:
        return self.cluster._call("filesystem", "Truncate", filesystem_pb2.TruncateRequest(mapping=self.mapping, size=size))

    def reflink(self, dst: "File", src_offset: int = 0, dst_offset: int = 0, length: int = 0,
                share_folios: bool = False) -> filesystem_pb2.ReflinkResponse:
        """FICLONERANGE: ``dst`` shares this file's blocks; with share_folios (profiles with PFN entries)
        its page cache also shares this file's clean folios instead of reading its own copies."""
        return self.cluster._call("filesystem", "Reflink", filesystem_pb2.ReflinkRequest(
            src_mapping=self.mapping, src_offset=src_offset, dst_mapping=dst.mapping, dst_offset=dst_offset,
            length=length, share_folios=share_folios))

    def fadvise_dontneed(self) -> page_cache_pb2.InvalidateMappingResponse:
        """posix_fadvise(POSIX_FADV_DONTNEED): drop this file's clean, unmapped folios from the page cache."""
        return self.cluster._call("pagecache", "InvalidateMapping", page_cache_pb2.InvalidateMappingRequest(mapping=self.mapping))


@dataclass
class Filesystem:
    cluster: "Cluster"
    name: str
    block_size: int
    profile: str

    def create(self, path: str) -> File:
        resp = self.cluster._call("filesystem", "Create", filesystem_pb2.CreateRequest(fs=self.name, path=path))
        return File(self.cluster, self, path, resp.mapping)


@dataclass
class Process:
    cluster: "Cluster"
    pid: int
    comm: str
    vmas: list[Vma] = field(default_factory=list)

    def mmap(self, file: File, length: int, prot: str = "r", shared: bool = True, offset: int = 0, addr: int = 0) -> Vma:
        unknown = set(prot) - set(_PROT)
        if unknown:
            raise ValueError(f"prot letters must be from 'rwx', got {prot!r}")
        req = reverse_map_pb2.MmapRequest(pid=self.pid, mapping=file.mapping, length=length, offset=offset,
                                          prot=[_PROT[c] for c in prot], shared=shared, addr=addr)
        resp = self.cluster._call("rmap", "Mmap", req)
        vma = Vma(resp.start, resp.end, file)
        self.vmas.append(vma)
        return vma

    def munmap(self, addr: int, length: int) -> int:
        return self.cluster._call("rmap", "Munmap", reverse_map_pb2.MunmapRequest(pid=self.pid, addr=addr, length=length)).pages_unmapped

    def fault(self, address: int, write: bool = False) -> FaultResult:
        trace_id, resp = self.cluster._traced_call(
            "rmap", "Fault", reverse_map_pb2.HandleFaultRequest(pid=self.pid, address=address, write=write))
        return FaultResult(
            vm_fault=VmFault.from_proto(resp.vm_fault), pfn=resp.pfn, folio_pfn=resp.folio.pfn,
            folio_order=resp.folio.order, pages_mapped=resp.pages_mapped,
            pages_mapped_around=resp.pages_mapped_around, major=resp.major,
            spurious=resp.spurious, trace_id=trace_id)

    def read(self, address: int, length: int) -> bytes:
        resp = self.cluster._call("rmap", "ReadMemory", reverse_map_pb2.ReadMemoryRequest(pid=self.pid, address=address, length=length))
        return resp.data


class Cluster:
    """A connection to the four services (addresses from MMSIM_*_ADDR or the defaults of `mmsim up`)."""

    def __init__(self, settings: config.Settings, timeout: float = 30.0):
        self.settings = settings
        self.timeout = timeout
        self._channels = {name: grpc.insecure_channel(addr, options=CHANNEL_OPTIONS) for name, addr in settings.addrs.items()}
        self.stubs = {name: STUBS[name](ch) for name, ch in self._channels.items()}
        self.last_trace_id = ""

    @classmethod
    def connect(cls, settings: config.Settings | None = None, timeout: float = 30.0) -> "Cluster":
        return cls(settings or config.load(), timeout)

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for ch in self._channels.values():
            ch.close()

    def _traced_call(self, service: str, method: str, request):
        trace_id, traceparent = new_traceparent()
        self.last_trace_id = trace_id
        resp = getattr(self.stubs[service], method)(request, timeout=self.timeout, metadata=[("traceparent", traceparent)])
        return trace_id, resp

    def _call(self, service: str, method: str, request):
        return self._traced_call(service, method, request)[1]

    def call(self, service: str, method: str, request):
        """Any RPC of any service, traced like the helpers above (for what the helpers do not wrap)."""
        return self._call(service, method, request)

    # Filesystems and processes -------------------------------------------------------------------------
    def mkfs(self, name: str, block_size: int = 4096, profile: str = "", alloc_context: str = "",
             max_folio_order: int | None = None) -> Filesystem:
        """alloc_context: "scope" (memalloc_nofs_save), "gfp_nofs" or "none"; empty = the profile's.
        max_folio_order caps the folios the filesystem asks for (0 = small pages only)."""
        resp = self._call("filesystem", "Mkfs", filesystem_pb2.MkfsRequest(
            name=name, block_size=block_size, profile=profile, alloc_context=alloc_context,
            max_folio_order=max_folio_order))
        return Filesystem(self, resp.name, resp.block_size, resp.profile)

    def spawn(self, comm: str) -> Process:
        resp = self._call("rmap", "Spawn", reverse_map_pb2.SpawnRequest(comm=comm))
        return Process(self, resp.pid, comm)

    def vmstat(self) -> dict[str, int]:
        """/proc/vmstat as a dict of the kernel's counter names (pages or events)."""
        return dict(self._call("allocator", "VmStat", page_allocator_pb2.VmStatRequest()).values)

    # Traces --------------------------------------------------------------------------------------------
    def _trace_stub(self) -> trace_pb2_grpc.TraceServiceStub:
        return trace_pb2_grpc.TraceServiceStub(self._channels["rmap"])

    def trace(self, trace_id: str, settle: float = 2.0) -> TraceTree:
        """The span tree of one trace, waiting (up to ``settle`` s) until every service has exported its spans."""
        stub, spans, deadline = self._trace_stub(), [], time.monotonic() + settle
        while True:
            try:
                got = list(stub.GetTrace(trace_pb2.GetTraceRequest(trace_id=trace_id), timeout=self.timeout).spans)
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.NOT_FOUND or time.monotonic() > deadline:
                    raise
                got = []
            if got and len(got) == len(spans):
                return TraceTree(got)
            spans = got
            if time.monotonic() > deadline:
                return TraceTree(spans)
            time.sleep(0.06)

    def traces(self, limit: int = 20) -> list[str]:
        return list(self._trace_stub().ListTraces(trace_pb2.ListTracesRequest(limit=limit), timeout=self.timeout).trace_ids)

    # CONFIG_DEBUG_VM ---------------------------------------------------------------------------------
    def check(self, max_violations: int = 0) -> CheckReport:
        """Every service's invariants (CheckService.Check with cluster=true, asked of the allocator)."""
        stub = check_pb2_grpc.CheckServiceStub(self._channels["allocator"])
        r = stub.Check(check_pb2.CheckRequest(cluster=True, max_violations=max_violations), timeout=self.timeout * 10)
        return CheckReport([Violation(v.rule, v.service, v.pfn, v.key, v.message) for v in r.violations],
                           dict(r.owners), dict(r.checked), r.truncated)

    def recover(self, older_than_ms: int = 0) -> int:
        """Run the recovery passes now (CheckService.Recover); returns the pages given back to the buddy."""
        stub = check_pb2_grpc.CheckServiceStub(self._channels["allocator"])
        return stub.Recover(check_pb2.RecoverRequest(older_than_ms=older_than_ms), timeout=self.timeout).pages_reclaimed
