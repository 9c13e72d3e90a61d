"""The filesystem service over the real stack: data integrity against a bytes model (read() and faults),
fallback vs min-order under fragmentation, the populate trace, bad input."""

from __future__ import annotations

import random

import grpc
import pytest

from mmsim.client import Cluster
from mmsim.runtime.vmfault import VmFault
from mmsim.v1 import filesystem_pb2 as fs_pb, page_allocator_pb2 as pa_pb

PAGE = 4096


@pytest.fixture(scope="module")
def mm(stack_settings):
    with Cluster.connect(stack_settings) as c:
        yield c


def _fs(mm, name, bs, profile):
    return mm.call("filesystem", "Mkfs", fs_pb.MkfsRequest(name=name, block_size=bs, profile=profile))


def _create(mm, fs, path):
    return mm.call("filesystem", "Create", fs_pb.CreateRequest(fs=fs, path=path)).mapping


def _read(mm, m, off, n):
    return mm.call("filesystem", "Read", fs_pb.ReadRequest(mapping=m, offset=off, length=n)).data


def _read_mapped(mm, m, size):
    """Read the whole file through a fresh MAP_SHARED mapping (faults -> Populate)."""
    proc = mm.spawn("reader")
    out = b""
    if size:
        length = -(-size // PAGE) * PAGE
        resp = mm.call("rmap", "Mmap", __import__("mmsim.v1.reverse_map_pb2", fromlist=["x"]).MmapRequest(
            pid=proc.pid, mapping=m, length=length, prot=[1], shared=True))
        out = proc.read(resp.start, size)
        mm.call("rmap", "Munmap", __import__("mmsim.v1.reverse_map_pb2", fromlist=["x"]).MunmapRequest(
            pid=proc.pid, addr=resp.start, length=length))
    return out


@pytest.mark.parametrize("bs", [4096, 16384, 65536])
def test_random_ops_match_a_bytes_model_through_read_and_faults(mm, bs):
    rng = random.Random(bs)
    name = f"it{bs // 1024}k"
    _fs(mm, name, bs, "lsfmm2018")
    a, b = _create(mm, name, "/a"), _create(mm, name, "/b")
    model = {a: bytearray(), b: bytearray()}
    limit = 4 * bs + 3000
    for step in range(14):
        op = rng.choice(["write", "write", "write", "truncate", "punch", "fsync", "reflink"])
        m = rng.choice([a, b])
        mod = model[m]
        if op == "write":
            off, data = rng.randrange(limit), rng.randbytes(rng.randrange(1, 2 * bs))
            mm.call("filesystem", "Write", fs_pb.WriteRequest(mapping=m, offset=off, data=data))
            mod.extend(bytes(max(0, off - len(mod))))
            mod[off:off + len(data)] = data
        elif op == "truncate":
            size = rng.randrange(limit)
            mm.call("filesystem", "Truncate", fs_pb.TruncateRequest(mapping=m, size=size))
            del mod[size:]
            mod.extend(bytes(size - len(mod)))
        elif op == "punch" and mod:
            off, ln = rng.randrange(len(mod)), rng.randrange(1, 2 * bs)
            mm.call("filesystem", "PunchHole", fs_pb.PunchHoleRequest(mapping=m, offset=off, length=ln))
            end = min(off + ln, len(mod))
            mod[off:end] = bytes(end - off)
        elif op == "fsync":
            mm.call("filesystem", "Fsync", fs_pb.FsyncRequest(mapping=m))
        elif op == "reflink" and len(model[a]) >= bs:
            ln = rng.randrange(1, len(model[a]) // bs + 1) * bs
            do = rng.randrange(limit // bs) * bs
            mm.call("filesystem", "Reflink", fs_pb.ReflinkRequest(src_mapping=a, src_offset=0, dst_mapping=b,
                                                                  dst_offset=do, length=ln))
            model[b].extend(bytes(max(0, do - len(model[b]))))
            model[b][do:do + ln] = model[a][:ln]
        for f in (a, b):
            assert _read(mm, f, 0, len(model[f]) + 100) == bytes(model[f]), (step, op, f)
        if step % 5 == 4:
            for f in (a, b):
                assert _read_mapped(mm, f, len(model[f])) == bytes(model[f]), (step, op, f, "faults")


def test_populate_trace_shows_attempts_policy_and_nofs_scope(mm):
    f = mm.mkfs("trace16k", block_size=16384, profile="linux-6.12").create("/t")
    f.write(0, b"t" * 65536)
    f.fsync()
    f.fadvise_dontneed()           # the write left its folios cached: drop them so the fault is major
    proc = mm.spawn("tracer")
    vma = proc.mmap(f, length=65536)
    r = proc.fault(vma.start + PAGE)
    assert r.ok and r.major and r.folio_order >= 2
    mm.trace(r.trace_id)           # waits for the spans to settle
    tree = mm._trace_stub().GetTrace(__import__("mmsim.v1.trace_pb2", fromlist=["x"]).GetTraceRequest(trace_id=r.trace_id))
    pop = [s for s in tree.spans if s.name.endswith("FilesystemService/Populate")]
    alloc = [s for s in tree.spans if s.name.endswith("PageAllocatorService/AllocPages")]
    assert len(pop) == 1 and alloc
    attrs = pop[0].attributes
    assert attrs["populate_policy"] == "min-order" and attrs["populate_scope"] == "PF_MEMALLOC_NOFS"
    assert "ok" in attrs["populate_attempts"]
    assert all(s.parent_span_id == pop[0].span_id for s in alloc)
    assert alloc[0].attributes.get("memalloc_scope") == "nofs"


def test_bad_input_gets_precise_status_and_changes_nothing(mm):
    def code(method, req):
        with pytest.raises(grpc.RpcError) as e:
            mm.call("filesystem", method, req)
        return e.value.code()

    assert code("Mkfs", fs_pb.MkfsRequest(name="bad", block_size=12288)) == grpc.StatusCode.INVALID_ARGUMENT
    assert code("Mkfs", fs_pb.MkfsRequest(name="bad", block_size=131072)) == grpc.StatusCode.INVALID_ARGUMENT
    assert code("Mkfs", fs_pb.MkfsRequest(name="bad", block_size=2048)) == grpc.StatusCode.INVALID_ARGUMENT
    _fs(mm, "bad", 4096, "lsfmm2018")   # the name is still free: nothing was created
    _fs(mm, "bad64", 65536, "lsfmm2018")
    a = _create(mm, "bad", "/a")
    c = _create(mm, "bad64", "/c")
    mm.call("filesystem", "Write", fs_pb.WriteRequest(mapping=a, offset=0, data=b"keep"))
    assert code("Write", fs_pb.WriteRequest(mapping=a, offset=-1, data=b"x")) == grpc.StatusCode.INVALID_ARGUMENT
    assert code("Write", fs_pb.WriteRequest(mapping=a, offset=1 << 40, data=b"x")) == grpc.StatusCode.OUT_OF_RANGE
    assert code("Read", fs_pb.ReadRequest(mapping=a, offset=-5, length=1)) == grpc.StatusCode.INVALID_ARGUMENT
    assert code("Truncate", fs_pb.TruncateRequest(mapping=a, size=-1)) == grpc.StatusCode.INVALID_ARGUMENT
    assert code("Reflink", fs_pb.ReflinkRequest(src_mapping=a, dst_mapping=c)) == grpc.StatusCode.INVALID_ARGUMENT
    assert code("Reflink", fs_pb.ReflinkRequest(src_mapping=a, dst_mapping=a, dst_offset=0, length=4096,
                                                share_folios=True)) in (grpc.StatusCode.FAILED_PRECONDITION,
                                                                        grpc.StatusCode.INVALID_ARGUMENT)
    assert code("Create", fs_pb.CreateRequest(fs="bad", path="/a")) == grpc.StatusCode.ALREADY_EXISTS
    assert code("Create", fs_pb.CreateRequest(fs="nope", path="/a")) == grpc.StatusCode.NOT_FOUND
    assert code("Stat", fs_pb.StatRequest(mapping="bad/999")) == grpc.StatusCode.NOT_FOUND
    assert code("Stat", fs_pb.StatRequest(mapping="garbage")) == grpc.StatusCode.INVALID_ARGUMENT
    st = mm.call("filesystem", "Stat", fs_pb.StatRequest(mapping=a))
    assert st.i_size == 4 and _read(mm, a, 0, 10) == b"keep"
    mm.call("filesystem", "Unlink", fs_pb.UnlinkRequest(fs="bad", path="/a"))
    assert code("Write", fs_pb.WriteRequest(mapping=a, offset=0, data=b"x")) in (grpc.StatusCode.NOT_FOUND,
                                                                               grpc.StatusCode.FAILED_PRECONDITION)


@pytest.fixture(scope="module")
def bare(private_stack):
    """A machine of its own with nothing reclaimable on it but what a test puts there (16 MiB: quick to fragment)."""
    with private_stack("mmsim-fs-bare", MMSIM_MEMORY="16MiB", MMSIM_LOG_LEVEL="info") as settings:
        with Cluster.connect(settings) as c:
            yield c


def test_fragmentation_makes_fallback_fall_back_and_min_order_fail(bare):
    """With every free block broken up by pinned (unmovable) pages and no page cache to reclaim, a large folio
    falls back to small pages (lsfmm2018) or the fault fails with VM_FAULT_OOM (min-order): reclaim and
    compaction have nothing to work with. The min-order fault comes first, while no process has memory the
    OOM killer could take (a VM_FAULT_OOM reaches pagefault_out_of_memory)."""
    mm = bare
    ok = mm.mkfs("frag-fb", block_size=65536, profile="lsfmm2018").create("/f")
    bad = mm.mkfs("frag-mo", block_size=65536, profile="linux-6.12").create("/f")
    for f in (ok, bad):
        f.write(0, b"d" * 65536)
        f.fsync()
        f.fadvise_dontneed()
    proc = mm.spawn("frag")
    v1, v2 = proc.mmap(ok, length=65536), proc.mmap(bad, length=65536)
    mm.call("allocator", "Fragment", pa_pb.FragmentRequest(node=0, max_free_order=1))
    try:
        r2 = proc.fault(v2.start)
        r1 = proc.fault(v1.start)
    finally:
        mm.call("allocator", "Unfragment", pa_pb.UnfragmentRequest(node=0))
    assert r1.ok and r1.folio_order <= 1
    assert VmFault.OOM in r2.vm_fault
    assert mm.vmstat()["oom_kill"] == 0 and proc.status().state == "running"
    assert proc.read(v1.start, 4096) == b"d" * 4096
    r3 = proc.fault(v2.start)        # without fragmentation the block-sized folio is there
    assert r3.ok and r3.folio_order == 4
