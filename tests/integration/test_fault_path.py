"""One page fault end to end through the four real services (and the reverse-map RPCs around it)."""

from __future__ import annotations

import secrets

import grpc
import pytest

from mmsim.client import Cluster
from mmsim.runtime.vmfault import VmFault
from mmsim.v1 import reverse_map_pb2 as rm

PAGE = 4096


@pytest.fixture()
def mm(stack_settings):
    with Cluster.connect(stack_settings) as c:
        yield c


def _fs(mm, block_size=4096, profile=""):
    return mm.mkfs("t" + secrets.token_hex(4), block_size=block_size, profile=profile)


def test_first_touch_is_major_second_is_minor(mm):
    # write(2) leaves its pages in the page cache, so touch a page the write did not cache: a hole, which
    # the linux-6.12 profile fills with a zero-filled page-cache folio (Populate + AllocPages)
    f = _fs(mm, profile="linux-6.12").create("/data/a")
    f.write(0, b"hello" * 1000)
    f.write(1 << 20, b"end")
    proc = mm.spawn("reader")
    vma = proc.mmap(f, length=2 << 20, prot="r", shared=True)
    first = proc.fault(vma.start + (512 << 10))
    assert first.ok and first.major and first.vm_fault & VmFault.MAJOR and first.pages_mapped >= 1
    methods = mm.trace(first.trace_id).methods()
    assert any("Populate" in m for m in methods) and any("AllocPages" in m for m in methods), methods
    second = proc.fault(vma.start + (512 << 10))
    assert second.ok and not second.major and second.spurious
    methods = mm.trace(second.trace_id).methods()
    assert not any("Populate" in m or "AllocPages" in m for m in methods), methods


def test_trace_of_a_major_fault_spans_all_four_services_with_parent_links(mm):
    f = _fs(mm, profile="linux-6.12").create("/data/t")
    f.write(8 * PAGE, b"x")
    proc = mm.spawn("tracer")
    vma = proc.mmap(f, length=16 * PAGE, prot="r")
    r = proc.fault(vma.start)
    assert r.major
    tree = mm.trace(r.trace_id)
    assert tree.services >= {"rmap", "pagecache", "filesystem", "allocator"}
    assert len(tree.roots) == 1 and tree.roots[0].span.service == "rmap"
    ids = {s.span_id: s for s in tree.spans}
    for s in tree.spans[1:]:
        assert s.parent_span_id in ids  # every other span hangs below the rmap Fault
    pc = next(s for s in tree.spans if s.service == "pagecache" and s.name.endswith("/Fault"))
    assert ids[pc.parent_span_id].service == "rmap"
    rmap_span = tree.roots[0].span
    assert rmap_span.redis_round_trips == 2  # FAULT_BEGIN + FINISH_FAULT, whatever the folio order


def test_data_through_the_mapping_holes_and_eof(mm):
    f = _fs(mm, block_size=16384).create("/data/b")
    payload = bytes(range(256)) * 64  # 16 KiB
    f.write(0, payload)
    f.write(64 * 1024, b"tail")  # 32 KiB hole before it; i_size = 64 KiB + 4
    proc = mm.spawn("rd")
    vma = proc.mmap(f, length=32 * PAGE, prot="r", shared=True)
    assert proc.read(vma.start, len(payload)) == payload
    assert proc.read(vma.start + 32 * 1024, 8192) == bytes(8192)  # hole reads zeros
    assert proc.read(vma.start + 64 * 1024, 4) == b"tail"
    beyond = proc.fault(vma.start + 20 * PAGE)  # page 20 > last page (16) of the file
    assert beyond.vm_fault & VmFault.SIGBUS
    outside = proc.fault(vma.end + PAGE)
    assert outside.vm_fault & VmFault.SIGSEGV


def test_large_folio_is_mapped_whole(mm):
    f = _fs(mm, block_size=16384).create("/data/big")
    f.write(0, b"z" * (64 * 1024))
    proc = mm.spawn("big")
    vma = proc.mmap(f, length=64 * 1024, prot="r", shared=True)
    r = proc.fault(vma.start + PAGE)
    assert r.folio_order >= 2 and r.pages_mapped == 1 << r.folio_order
    st = mm.call("rmap", "ProcStatus", rm.ProcStatusRequest(pid=proc.pid))
    assert st.rss_file == r.pages_mapped and st.maj_flt + st.min_flt == 1
    mc = mm.call("rmap", "FolioMapcount", rm.FolioMapcountRequest(pfn=r.pfn, node=0))
    assert mc.folio_mapcount == r.pages_mapped and mc.page_mapcount_raw == 0 and mc.per_process[proc.pid] == 1


def test_write_shared_then_private_copy(mm):
    f = _fs(mm).create("/data/w")
    f.write(0, b"a" * PAGE)
    proc = mm.spawn("writer")
    shared = proc.mmap(f, length=PAGE, prot="rw", shared=True)
    private = proc.mmap(f, length=PAGE, prot="rw", shared=False)
    w = mm.call("rmap", "WriteMemory", rm.WriteMemoryRequest(pid=proc.pid, address=shared.start, data=b"SH"))
    assert w.written == 2 and not w.vm_fault
    assert f.read(0, 2) == b"SH"  # the page cache folio itself changed
    w = mm.call("rmap", "WriteMemory", rm.WriteMemoryRequest(pid=proc.pid, address=private.start, data=b"PR"))
    assert w.written == 2
    assert proc.read(private.start, 3) == b"PRa" and f.read(0, 3) == b"SHa"
    st = mm.call("rmap", "ProcStatus", rm.ProcStatusRequest(pid=proc.pid))
    assert st.rss_anon == 1


def test_proc_maps_munmap_unmap_mapping_range_and_exit(mm):
    f = _fs(mm).create("/data/m")
    f.write(0, b"m" * 8 * PAGE)
    proc = mm.spawn("maps")
    vma = proc.mmap(f, length=8 * PAGE, prot="r", shared=False, offset=0)
    text = mm.call("rmap", "ProcMaps", rm.ProcMapsRequest(pid=proc.pid)).text
    assert text.startswith(f"{vma.start:08x}-{vma.end:08x} r--p 00000000 ") and text.rstrip().endswith("/data/m")
    proc.read(vma.start, 8 * PAGE)
    z = mm.call("rmap", "UnmapMappingRange", rm.UnmapMappingRangeRequest(mapping=f.mapping, start=PAGE, length=PAGE))
    assert z.pages_unmapped == 1 and z.vmas == 1
    assert proc.munmap(vma.start + 4 * PAGE, 2 * PAGE) == 2
    assert len(mm.call("rmap", "ProcMaps", rm.ProcMapsRequest(pid=proc.pid)).lines) == 2
    ex = mm.call("rmap", "Exit", rm.ExitRequest(pid=proc.pid))
    assert ex.vmas == 2 and ex.pages_unmapped == 8 - 1 - 2
    with pytest.raises(grpc.RpcError) as err:
        mm.call("rmap", "ProcMaps", rm.ProcMapsRequest(pid=proc.pid))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("action", [rm.MAPCOUNT_ACTION_KILL, rm.MAPCOUNT_ACTION_LEAK])
def test_mapcount_limit_kill_vs_leak(mm, action):
    f = _fs(mm).create("/data/l")
    f.write(0, b"l" * PAGE)
    pid = mm.call("rmap", "Spawn", rm.SpawnRequest(comm="limit", mapcount_limit=10, mapcount_action=action)).pid
    starts = [mm.call("rmap", "Mmap", rm.MmapRequest(pid=pid, mapping=f.mapping, length=PAGE, prot=[rm.PROT_READ],
                                                      shared=True)).start for _ in range(11)]  # fmt: skip
    for s in starts[:10]:
        r = mm.call("rmap", "HandleFault", rm.HandleFaultRequest(pid=pid, address=s))
        assert not VmFault.from_proto(r.vm_fault) & (VmFault.SIGBUS | VmFault.SIGSEGV | VmFault.OOM)
    if action == rm.MAPCOUNT_ACTION_KILL:
        with pytest.raises(grpc.RpcError) as err:
            mm.call("rmap", "HandleFault", rm.HandleFaultRequest(pid=pid, address=starts[10]))
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "killed" in err.value.details()
        st = mm.call("rmap", "ProcStatus", rm.ProcStatusRequest(pid=pid))
        assert st.state == "killed" and st.rss_file == 0 and st.map_count == 0
    else:
        r = mm.call("rmap", "HandleFault", rm.HandleFaultRequest(pid=pid, address=starts[10]))
        assert not VmFault.from_proto(r.vm_fault) & VmFault.SIGSEGV and r.pinned
        mc = mm.call("rmap", "FolioMapcount", rm.FolioMapcountRequest(pfn=r.pfn, node=r.folio.node))
        assert mc.pinned and mc.per_process[pid] == 11 and mc.folio_mapcount == 11
    mm.call("rmap", "Exit", rm.ExitRequest(pid=pid))


@pytest.mark.parametrize("method, request_, code", [
    ("Spawn", rm.SpawnRequest(comm=""), grpc.StatusCode.INVALID_ARGUMENT),
    ("Spawn", rm.SpawnRequest(comm="x" * 40), grpc.StatusCode.INVALID_ARGUMENT),
    ("Mmap", rm.MmapRequest(pid=999999, mapping="nofs/1", length=PAGE), grpc.StatusCode.NOT_FOUND),
    ("Mmap", rm.MmapRequest(pid=1, mapping="", length=PAGE), grpc.StatusCode.INVALID_ARGUMENT),
    ("Munmap", rm.MunmapRequest(pid=999999, addr=PAGE, length=PAGE), grpc.StatusCode.NOT_FOUND),
    ("Munmap", rm.MunmapRequest(pid=1, addr=5, length=PAGE), grpc.StatusCode.INVALID_ARGUMENT),
    ("HandleFault", rm.HandleFaultRequest(pid=999999, address=PAGE), grpc.StatusCode.NOT_FOUND),
    ("HandleFault", rm.HandleFaultRequest(pid=0, address=PAGE), grpc.StatusCode.INVALID_ARGUMENT),
    ("ReadMemory", rm.ReadMemoryRequest(pid=999999, address=PAGE, length=1), grpc.StatusCode.NOT_FOUND),
    ("ReadMemory", rm.ReadMemoryRequest(pid=1, address=PAGE, length=1 << 30), grpc.StatusCode.INVALID_ARGUMENT),
    ("WriteMemory", rm.WriteMemoryRequest(pid=999999, address=PAGE, data=b"x"), grpc.StatusCode.NOT_FOUND),
    ("UnmapMappingRange", rm.UnmapMappingRangeRequest(mapping="nofs/1"), grpc.StatusCode.NOT_FOUND),
    ("UnmapMappingRange", rm.UnmapMappingRangeRequest(mapping=""), grpc.StatusCode.INVALID_ARGUMENT),
    ("Exit", rm.ExitRequest(pid=999999), grpc.StatusCode.NOT_FOUND),
    ("ProcMaps", rm.ProcMapsRequest(pid=999999), grpc.StatusCode.NOT_FOUND),
    ("ProcStatus", rm.ProcStatusRequest(pid=0), grpc.StatusCode.INVALID_ARGUMENT),
    ("FolioMapcount", rm.FolioMapcountRequest(pfn=1, node=7), grpc.StatusCode.INVALID_ARGUMENT),
])  # fmt: skip
def test_bad_input_gets_the_right_status_and_the_service_stays_up(mm, method, request_, code):
    with pytest.raises(grpc.RpcError) as err:
        mm.call("rmap", method, request_)
    assert err.value.code() == code, err.value.details()
    assert mm.spawn("alive").pid > 0


def test_unknown_file_is_not_found(mm):
    proc = mm.spawn("nf")
    with pytest.raises(grpc.RpcError) as err:
        mm.call("rmap", "Mmap", rm.MmapRequest(pid=proc.pid, mapping="nofs/424242", length=PAGE, prot=[rm.PROT_READ]))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_fault_around_maps_cached_neighbours(stack_settings):
    """do_read_fault -> do_fault_around: a read fault on a cached page maps the cached pages of the 16-page
    window (filemap_map_pages; aligned in the page table, so in virtual addresses) and answers
    VM_FAULT_NOPAGE; another access in the window is no fault at all, one past it is."""
    from mmsim.client import Cluster

    with Cluster.connect(stack_settings) as mm:
        f = mm.mkfs("aroundfs", block_size=4096, max_folio_order=0).create("/a")
        f.write(0, b"a" * 32 * 4096)                      # cached by the write, as 32 order-0 folios
        proc = mm.spawn("around")
        vma = proc.mmap(f, 32 * 4096)
        # the window of do_fault_around: 16 pages aligned in the page table, clamped to the VMA (32 pages)
        pte_off = ((vma.start >> 12) + 5) % 512
        from_pte = max(pte_off - pte_off % 16, pte_off - 5)
        first_index, n = 5 - (pte_off - from_pte), min(from_pte + 16, 512, pte_off + 27) - from_pte
        assert first_index <= 5 < first_index + n and n == 16
        first = proc.fault(vma.start + 5 * 4096)
        assert str(first.vm_fault) == "VM_FAULT_NOPAGE" and not first.major
        assert first.pages_mapped + first.pages_mapped_around == 16
        for inside in (first_index, first_index + n - 1):
            assert proc.fault(vma.start + inside * 4096).spurious
        assert not proc.fault(vma.start + (first_index + n) * 4096).spurious   # the next window
        assert proc.read(vma.start + (first_index + n - 1) * 4096, 4) == b"aaaa"
