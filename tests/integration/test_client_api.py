"""The typed Python client over the real stack: every RPC through a client method, bad input as the right
mmsim.errors class, results as dataclasses whose to_dict() is plain JSON with numbers as numbers.

Reset is exercised on a private stack (tests/integration/test_stack_lifecycle.py): here it would wipe the
state of the other test modules sharing the session stack.
"""

from __future__ import annotations

import json
import secrets

import pytest

from mmsim import errors
from mmsim.client import PAGE_SIZE, Cluster, FaultResult, File, Folio, KvAllocation, Process
from mmsim.runtime import keys, methods
from mmsim.runtime.vmfault import VmFault

CALLED: set[str] = set()


@pytest.fixture(scope="module")
def mm(stack_settings):
    """A cluster whose every call is recorded (to check at the end that each RPC has a client method)."""
    with Cluster.connect(stack_settings) as cluster:
        raw = cluster._traced_call

        def recording(service, method, request, timeout=None):
            CALLED.add(methods.full_name(service, method))
            return raw(service, method, request, timeout)

        cluster._traced_call = recording
        yield cluster


@pytest.fixture(scope="module")
def world(mm):
    """A filesystem, a written and fsynced file, a process mapping it."""
    fs = mm.mkfs("api" + secrets.token_hex(3), block_size=4096, profile="lsfmm2018")
    f = fs.create("/data/a")
    f.write(0, bytes(range(256)) * 64)          # 16 KiB
    f.truncate(1 << 20)                           # the rest is a hole
    proc = mm.spawn("api")
    vma = proc.mmap(f, length=1 << 20, prot="rw", shared=True)
    return fs, f, proc, vma


def _json(result) -> dict:
    d = result.to_dict()
    json.dumps(d)
    return d


# ---- the allocator -----------------------------------------------------------------------------------------


def test_alloc_pages_takes_kernel_gfp_names_and_frees(mm):
    got = mm.allocator.alloc_pages(2, "GFP_KERNEL|__GFP_NOWARN")
    assert got.folio.order == 2 and got.effective_gfp.startswith("GFP_KERNEL") and "__GFP_NOWARN" in got.effective_gfp
    d = _json(got)
    assert isinstance(d["folio"]["pfn"], int) and d["folio"]["order"] == 2
    page = mm.allocator.get_page(got.folio.pfn)
    assert page.pfn == got.folio.pfn and page.refcount == 1 and "order 2" in page.text
    assert mm.free_pages(got.folio) >= 2             # merged with its buddies, or at least itself
    free = mm.allocator.get_page(got.folio.pfn)
    assert "buddy" in free.page_type and free.mapped == 0 and _json(free)["mapped"] == 0


def test_kv_family_and_malloc_free(mm):
    a = mm.kvmalloc_struct(64, 8, 1 << 20, "GFP_KERNEL")
    assert isinstance(a, KvAllocation) and a.size == 64 + 8 * (1 << 20) and a.kind in ("kmalloc", "vmalloc")
    mm.kvfree(a)
    for alloc, expected in ((mm.kmalloc(100), "kmalloc"), (mm.vmalloc(3 * PAGE_SIZE), "vmalloc"),
                            (mm.kvmalloc(PAGE_SIZE, "GFP_KERNEL"), "kmalloc")):
        assert alloc.kind == expected and _json(alloc)["addr"] == alloc.addr
        mm.kvfree(alloc.addr)
    arr, zeroed = mm.kvmalloc_array(10, 100), mm.kvcalloc(10, 100)
    assert arr.size == zeroed.size == 1000 and "__GFP_ZERO" in zeroed.gfp
    mm.kvfree(arr), mm.kvfree(zeroed)
    m = mm.malloc(5000)
    assert m.size == 5000 and m.gfp.startswith("GFP_KERNEL")
    mm.free(m)
    with pytest.raises(errors.MmsimError) as err:
        mm.free(m)                                    # double free
    assert err.value.code in ("NOT_FOUND", "FAILED_PRECONDITION") and isinstance(err.value, (errors.NotFound, errors.FailedPrecondition))


def test_proc_files_and_fragmentation(mm):
    assert mm.allocator.buddyinfo().startswith("Node 0, zone")
    assert "Free pages count per migrate type" in mm.allocator.pagetypeinfo()
    vm, mi = mm.vmstat(), mm.allocator.meminfo()
    assert isinstance(vm["nr_free_pages"], int) and mi["MemTotal"] > 0
    assert "nr_free_pages" in mm.allocator.vmstat_text() and "MemTotal:" in mm.allocator.meminfo_text()
    try:
        frag = mm.allocator.fragment(0, zone="DMA", max_free_order=0)   # the small zone: quick
        assert frag.pinned > 0 and frag.zones == ["DMA"]
        with pytest.raises(errors.ResourceExhausted):
            mm.allocator.alloc_pages(1, "GFP_DMA|__GFP_NORETRY|__GFP_NOWARN")
        other = mm.allocator.alloc_pages(1, "GFP_KERNEL")                  # other zones are untouched
        mm.allocator.free_pages(other.folio)
    finally:
        unpinned = mm.allocator.unfragment(0)
    assert unpinned == frag.pinned


def test_reclaim_calls(mm, world):
    zone = mm.allocator.zoneinfo().zones[0]
    assert zone.min <= zone.low <= zone.high <= zone.managed
    f = world[0].create("/pageout")
    f.write(0, b"p" * 4096)
    assert f.pageout([0]).folios_written == 1
    assert f.pageout([0]).folios_written == 0  # clean now: nothing to write


# ---- files -------------------------------------------------------------------------------------------------


def test_file_calls_and_reopening(mm, world):
    fs, f, _, _ = world
    assert f.read(0, 4) == bytes(range(4))
    w = f.write_result(16384, b"xyz")
    assert w.written == 3 and w.i_size == 1 << 20
    st = f.stat()
    assert st.i_size == 1 << 20 and st.path == "/data/a" and st.indexing == "multi-order"
    assert _json(st)["i_size"] == 1 << 20
    assert f.fsync().folios_written >= 1             # delayed allocation: blocks now
    info = fs.statfs()
    assert info.block_size == 4096 and info.indexing == "multi-order" and info.blocks_used >= 4
    again = mm.filesystem(fs.name)
    assert (again.name, again.block_size, again.profile) == (fs.name, 4096, "lsfmm2018")
    reopened = mm.file(f.mapping)
    assert reopened.path == "/data/a" and reopened.read(0, 4) == bytes(range(4))
    assert fs.file(int(f.mapping.split("/")[1])).mapping == f.mapping
    assert f.fadvise("POSIX_FADV_DONTNEED").folios_removed >= 1


def test_populate_truncate_punch_reflink_unlink(mm, world):
    fs, *_ = world
    g = fs.create("/data/g")
    g.write(0, b"g" * (8 * PAGE_SIZE))
    g.truncate(64 * PAGE_SIZE)
    g.fsync()
    pop = g.populate(40)
    assert pop.policy == "fallback" and (pop.zero_entry or pop.folio is not None)
    hole = g.punch_hole(PAGE_SIZE, 2 * PAGE_SIZE)
    assert hole.blocks_freed == 2 and g.read(PAGE_SIZE, 4) == bytes(4)
    t = g.truncate(4 * PAGE_SIZE)
    assert t.old_size == 64 * PAGE_SIZE and t.i_size == 4 * PAGE_SIZE
    h = fs.create("/data/h")
    r = g.reflink(h)
    assert r.blocks_shared >= 1 and h.read(0, 1) == b"g"
    u = h.unlink()
    assert u.mapping == h.mapping and not u.orphaned
    with pytest.raises(errors.NotFound):
        fs.unlink("/data/h")


def test_indexing_is_chosen_per_filesystem_and_per_file(mm):
    fs = mm.mkfs("idx" + secrets.token_hex(3), indexing="order-0")
    assert fs.indexing == "order-0" and fs.statfs().indexing == "order-0"
    f0, fh = fs.create("/a"), fs.create("/h", indexing="hugetlb")
    assert f0.stat().indexing == "order-0" and fh.stat().indexing == "hugetlb"
    assert f0.xa_stats().indexing == "order-0" and fh.xa_stats().indexing == "hugetlb"
    fh.write(0, b"huge")
    assert fh.find_folio(0).folio.order == 9       # hugetlbfs: every folio is a huge page
    f0.write(0, b"x" * (16 * PAGE_SIZE))
    assert f0.xa_stats().entries == 16              # order-0: one entry per page, however large the folio
    with pytest.raises(errors.InvalidArgument):
        fs.create("/bad", indexing="sideways")


# ---- the page cache ----------------------------------------------------------------------------------------


def test_page_cache_calls(mm, world):
    fs, f, _, _ = world
    pc = mm.pagecache
    k = fs.create("/data/k")
    k.truncate(512 * PAGE_SIZE)
    got = mm.alloc_pages(0, "GFP_HIGHUSER_MOVABLE")
    assert pc.add_folio(k, 300, got.folio) == 1
    found = k.find_folio(300)
    assert found.folio == got.folio and found.folio_index == 300 and not found.zero_entry
    w = pc.write_folio(k, 300 * PAGE_SIZE + 10, b"hello" * 1000)     # 5000 bytes: 4086 fit the folio
    assert w.written == PAGE_SIZE - 10 and w.entry.folio == got.folio and w.entry.folio_index == 300
    assert k.read(300 * PAGE_SIZE + 10, 5) == b"hello"                  # dirty: read(2) sees the folio
    assert pc.write_folio(k, 301 * PAGE_SIZE, b"x").written == 0        # nothing caches page 301
    pc.tag_folio(k, 300, "dirty")
    assert [c.folio_index for c in pc.find_tagged(k, "dirty")] == [300]
    assert pc.xa_stats(k).tagged == ["PAGECACHE_TAG_DIRTY"]      # mapping_tagged: xa_marked
    pc.tag_folio(k, 300, "PAGECACHE_TAG_DIRTY", clear=True)
    assert pc.find_tagged(k, "dirty") == [] and pc.xa_stats(k).tagged == []
    tr = pc.truncate_range(k, 300 * PAGE_SIZE, 301 * PAGE_SIZE - 1)
    assert tr.folios_removed == 1 and tr.pages_freed == 1
    fault = pc.fault(f, 0, flags=("user",))
    assert fault.folio is not None and VmFault.LOCKED in fault.vm_fault and fault.i_size == 1 << 20
    assert pc.xa_stats(f).entries >= 1 and f.mapping in pc.xa_dump(f)
    tree = pc.xa_tree(f)
    assert tree.mapping == f.mapping and tree.head is not None and tree.to_dict()["head"]["kind"] == tree.head.kind
    inv = pc.invalidate_mapping(k)
    assert inv.folios_busy == 0
    empty = k.find_folio(300)                      # the file exists, nothing caches the index: found False
    assert not empty.found and empty.folio is None and empty.to_dict()["found"] is False
    assert k.find_folio(0).found is False and f.find_folio(0).found
    slab = mm.drop_caches(2)                       # the slab only (the page cache of the shared stack stays)
    assert slab.slab_objects_freed == 0 and slab.folios_removed == 0 and slab.drop_slab >= 1
    with pytest.raises(errors.InvalidArgument):
        pc.tag_folio(k, 0, "purple")


def test_pfn_entry_sharing_calls(mm):
    fs = mm.mkfs("share" + secrets.token_hex(3), profile="lsfmm2018")
    a, b = fs.create("/a"), fs.create("/b")
    a.write(0, b"s" * (4 * PAGE_SIZE))
    a.fsync()
    a.reflink(b)
    shared = mm.pagecache.share_folios(a, b, 4)
    assert shared.pages_shared + shared.folios_skipped >= 1
    un = mm.pagecache.unshare_folio(b, 0)
    assert un.folio is not None and un.copied == bool(shared.pages_shared)
    assert b.read(0, 2) == b"ss"


# ---- processes and faults ----------------------------------------------------------------------------------


def test_fault_results_say_what_happened(mm, world):
    _, f, proc, vma = world
    first = proc.fault(vma.start + 200 * PAGE_SIZE)           # a hole: the zero page
    assert isinstance(first, FaultResult) and first.zero_page and first.outcome == "zero-page", first
    again = proc.fault(vma.start + 200 * PAGE_SIZE)
    assert again.spurious and again.outcome == "spurious"
    d = _json(again)
    assert d["outcome"] == "spurious" and d["ok"] is True and isinstance(d["pfn"], int) and isinstance(d["vm_fault"], list)
    bad = proc.fault(vma.end + PAGE_SIZE)                      # no VMA there
    assert not bad.ok and bad.outcome == "sigsegv" and "VM_FAULT_SIGSEGV" in _json(bad)["vm_fault"]


def test_memory_access_maps_status_mapcount_munmap_exit(mm, world):
    _, f, _, _ = world
    proc = mm.spawn("api2", mapcount_limit=100, mapcount_action="leak")
    vma = proc.mmap(f, length=64 * PAGE_SIZE, prot="rw", shared=True)
    w = proc.write_memory(vma.start + 8, b"HELLO")
    assert w.written == 5 and w.ok
    r = proc.read_memory(vma.start + 8, 5)
    assert r.data == b"HELLO" and _json(r)["data"] == "SEVMTE8="    # base64, as protobuf's JSON
    assert len(proc.maps()) == 1 and f.mapping.split("/")[0] in proc.maps()[0] or proc.maps()
    (sm,) = proc.smaps().vmas
    assert (sm.start, sm.size_kb, sm.rss_kb, sm.file_pmd_mapped_kb) == (vma.start, 256, 4 * proc.status().rss_file, 0)
    assert sm.rss_kb and _json(proc.smaps())["vmas"][0]["header"] == proc.maps()[0]
    st = proc.status()
    assert st.comm == "api2" and st.map_count == 1 and st.mapcount_limit == 100 and st.mapcount_action == "MAPCOUNT_ACTION_LEAK"
    assert mm.process(proc.pid).comm == "api2"
    pfn = proc.fault(vma.start).pfn
    page = mm.allocator.get_page(pfn)
    assert page.mapped >= 1 and page.mapcount == page.mapped - 1 and "PG_uptodate" in page.pg_flags, page
    mc = mm.rmap.folio_mapcount(pfn)
    assert mc.folio_mapcount >= 1 and mc.per_process.get(proc.pid, 0) >= 1
    assert f.unmap_mapping_range(0, PAGE_SIZE).pages_unmapped >= 1
    assert proc.munmap(vma.start + 32 * PAGE_SIZE, 32 * PAGE_SIZE) >= 0
    mp = proc.mprotect(vma.start + 8 * PAGE_SIZE, 8 * PAGE_SIZE, "r")   # the VMA splits in three
    assert (mp.vmas_replaced, mp.vmas_now) == (1, 3) and _json(mp)["vmas_now"] == 3
    child = proc.fork()
    assert child.pid != proc.pid and child.fork_result.vmas == 3 and child.status().map_count == 3
    assert child.exit().vmas == 3
    gone = proc.exit()
    assert gone.vmas == 3
    with pytest.raises(errors.NotFound):
        proc.status()


def test_bulk_mapping_pins_and_rmap_walk(mm, world):
    """Issue 13's RPCs through their client methods: MapMany in a bulk run, PinPages, RmapWalk."""
    _, f, _, _ = world
    run = mm.spawn("bulk", mapcount_action="none", count=4)
    holder = mm.spawn("holder")
    hv = holder.mmap(f, PAGE_SIZE)
    pfn = holder.fault(hv.start).pfn
    r = run.map_many(f, 0, 10)
    assert r.tasks == 4 and r.mappings == 40 and r.folio.pfn == pfn and _json(r)["mappings"] == 40
    walk = mm.rmap.rmap_walk(pfn)
    assert {(m.pid, m.kind, m.vmas, m.tasks) for m in walk.mappings} >= {(run.pid, "run", 10, 4), (holder.pid, "file", 1, 1)}
    pins = holder.pin_pages(hv.start, 3)
    assert pins.pinned == 3 and pins.refused == 0 and pins.pfn == pfn and _json(pins)["pinned"] == 3
    assert holder.status().pins == 3 and run.status().nr_tasks == 4
    run.exit(), holder.exit()
    assert mm.rmap.folio_mapcount(pfn).refcount >= 1


def test_orphan_eviction_mkclean_release_thp_stats_check_recover(mm, world):
    """The RPCs issues 9 and 15 added, each through its client method."""
    fs, *_ = world
    o = fs.create("/data/orphan")
    o.write(0, b"o" * PAGE_SIZE)
    proc = mm.spawn("api3")
    vma = proc.mmap(o, length=PAGE_SIZE, prot="rw", shared=True)
    assert proc.write_memory(vma.start, b"O").written == 1
    folio = proc.fault(vma.start)
    mk = mm.rmap.folio_mkclean(o, [(Folio(folio.folio_pfn, folio.folio_order), 0)])
    assert mk.cleaned == [1] and mk.vmas == 1 and _json(mk)["pte_dirty"] == mk.pte_dirty
    assert proc.write_memory(vma.start, b"P").faults == 1          # write-protected by the mkclean
    assert o.unlink().orphaned
    assert not o.evict().evicted                                 # still mapped: nothing to evict yet
    proc.exit()                                                  # the last unmap evicts it
    assert not o.evict().evicted
    page = mm.allocator.alloc_pages(1)
    rel = mm.allocator.release_folios([page.folio])
    assert (rel.folios_freed, rel.pages_freed) == (1, 2)
    thp = mm.thp_stats()
    assert thp.per_size[64].path == "/sys/kernel/mm/transparent_hugepage/hugepages-64kB/stats"
    assert "thp_split_page" in thp.vmstat and _json(thp)["sizes"][0]["size_kb"] == 8
    report = mm.check()
    assert report.ok, report.to_dict()
    assert mm.recover() >= 0


# ---- traces ------------------------------------------------------------------------------------------------


def test_traces_echo_and_last_fault(mm, world, stack_settings):
    _, _, proc, vma = world
    r = proc.fault(vma.start)
    tree = mm.trace(r.trace_id)
    assert tree.complete and tree.trace_id == r.trace_id
    assert r.trace_id in mm.traces(50) and r.trace_id in mm.traces(50, kind="fault")
    echo = mm.echo([(stack_settings.addrs["pagecache"], 1)], redis_round_trips=1, payload=b"ping")
    assert echo.payload == b"ping" and echo.hops == 2
    echoed = mm.trace(mm.last_trace_id)                     # the echo's trace, once complete
    assert echoed.complete and echoed.hops == 2
    assert mm.last_trace("any").trace_id == echoed.trace_id
    assert mm.last_trace().trace_id == r.trace_id            # `trace last`: the newest fault, not the echo
    with pytest.raises(errors.InvalidArgument):
        mm.traces(1, kind="sometimes")


def test_echo_with_writes_makes_its_round_trips_durable_writes(mm, stack_settings):
    """The second baseline of `mmsim bench fault`: each round trip of each hop is one write (the echo counter
    goes up by all of them, so Redis appended each to its AOF), counted like the PINGs in the spans."""
    import redis  # noqa: PLC0415

    client = redis.Redis.from_url(stack_settings.redis_url)
    before = int(client.get(keys.cluster("echo")) or 0)
    echo = mm.echo([(stack_settings.addrs["pagecache"], 3)], redis_round_trips=2, payload=b"w", writes=True)
    assert echo.hops == 2 and int(client.get(keys.cluster("echo"))) == before + 5
    assert mm.trace(mm.last_trace_id).redis_round_trips == 5
    mm.echo([(stack_settings.addrs["pagecache"], 3)], redis_round_trips=2)        # PINGs write nothing
    assert int(client.get(keys.cluster("echo"))) == before + 5
    client.close()


# ---- bad input: the precise class, no state change ---------------------------------------------------------

BAD = [
    ("alloc_pages order 11", lambda mm, w: mm.allocator.alloc_pages(11), errors.InvalidArgument, "order"),
    ("gfp name unknown", lambda mm, w: mm.allocator.alloc_pages(0, "GFP_BOGUS"), errors.InvalidArgument, "GFP_BOGUS"),
    ("free_pages of a free block", lambda mm, w: mm.allocator.free_pages(Folio(0, 10)), errors.FailedPrecondition, ""),
    ("get_page beyond memory", lambda mm, w: mm.allocator.get_page(1 << 40), errors.MmsimError, ""),
    ("kvmalloc_struct overflow", lambda mm, w: mm.kvmalloc_struct(64, 1 << 40, 1 << 40), errors.InvalidArgument, ""),
    ("kvfree unknown address", lambda mm, w: mm.kvfree(12345), errors.MmsimError, ""),
    ("fragment max order 10", lambda mm, w: mm.allocator.fragment(0, max_free_order=10), errors.InvalidArgument, "max_free_order"),
    ("mkfs twice", lambda mm, w: mm.mkfs(w[0].name), errors.AlreadyExists, "already exists"),
    ("mkfs bad block size", lambda mm, w: mm.mkfs("bs" + secrets.token_hex(3), block_size=5000), errors.InvalidArgument, "block_size"),
    ("mkfs bad indexing", lambda mm, w: mm.mkfs("ix" + secrets.token_hex(3), indexing="wide"), errors.InvalidArgument, "indexing"),
    ("create twice", lambda mm, w: w[0].create("/data/a"), errors.AlreadyExists, "already exists"),
    ("reopen missing fs", lambda mm, w: mm.filesystem("nosuchfs"), errors.NotFound, "nosuchfs"),
    ("reopen missing file", lambda mm, w: mm.file(w[0].name + "/9999"), errors.NotFound, "9999"),
    ("write negative offset", lambda mm, w: w[1].write(-1, b"x"), errors.InvalidArgument, ""),
    ("read negative length", lambda mm, w: w[1].read(0, -4096), errors.InvalidArgument, ""),
    ("truncate negative", lambda mm, w: w[1].truncate(-4096), errors.InvalidArgument, ""),
    ("punch zero length", lambda mm, w: w[1].punch_hole(0, 0), errors.InvalidArgument, ""),
    ("fadvise unmodelled advice", lambda mm, w: w[1].fadvise("willneed"), errors.InvalidArgument, "DONTNEED"),
    ("populate bad gfp", lambda mm, w: w[1].populate(0, gfp="__GFP_WHAT"), errors.InvalidArgument, "__GFP_WHAT"),
    ("reflink unaligned", lambda mm, w: w[1].reflink(w[1], src_offset=1, dst_offset=8192, length=4096), errors.InvalidArgument, ""),
    ("fsync missing file", lambda mm, w: mm.fs_call("Fsync", __import__("mmsim.v1.filesystem_pb2", fromlist=["x"]).FsyncRequest(mapping="nofs/1")),
     errors.NotFound, ""),
    ("spawn empty comm", lambda mm, w: mm.spawn(""), errors.InvalidArgument, "comm"),
    ("spawn bad action", lambda mm, w: mm.spawn("x", mapcount_action="explode"), errors.InvalidArgument, "mapcount_action"),
    ("mmap bad prot", lambda mm, w: w[2].mmap(w[1], 4096, prot="q"), errors.InvalidArgument, "prot"),
    ("mmap zero length", lambda mm, w: w[2].mmap(w[1], 0), errors.InvalidArgument, ""),
    ("munmap unaligned", lambda mm, w: w[2].munmap(w[3].start + 1, 4096), errors.InvalidArgument, ""),
    ("reopen unknown pid", lambda mm, w: mm.process(999999), errors.NotFound, ""),
    ("read_memory too long", lambda mm, w: w[2].read_memory(w[3].start, 1 << 30), errors.InvalidArgument, "length"),
    ("folio_mapcount bad node", lambda mm, w: mm.rmap.folio_mapcount(0, node=7), errors.MmsimError, ""),
    ("find_folio missing file", lambda mm, w: mm.pagecache.find_folio("nofs/1", 0), errors.NotFound, "no such file"),
    ("drop_caches bad mode", lambda mm, w: mm.drop_caches(5), errors.InvalidArgument, "drop_caches takes"),
    ("unlink missing file", lambda mm, w: File(mm, w[0], "", f"{w[0].name}/99999").unlink(), errors.NotFound, "99999"),
    ("add_folio misaligned", lambda mm, w: mm.pagecache.add_folio(w[1], 3, Folio(512, 2)), errors.InvalidArgument, ""),
    ("truncate_range backwards", lambda mm, w: mm.pagecache.truncate_range(w[1], 8192, 4095), errors.InvalidArgument, "lend"),
    ("share_folios across fs", lambda mm, w: mm.pagecache.share_folios(w[1], "nofs/1", 1), errors.MmsimError, ""),
    ("unshare_folio bad mapping", lambda mm, w: mm.pagecache.unshare_folio("", 0), errors.InvalidArgument, "mapping"),
    ("invalidate bad mapping", lambda mm, w: mm.pagecache.invalidate_mapping("garbage"), errors.InvalidArgument, "mapping"),
    ("find_tagged limit", lambda mm, w: mm.pagecache.find_tagged(w[1], "dirty", limit=100000), errors.InvalidArgument, "limit"),
    ("xa_stats missing", lambda mm, w: mm.pagecache.xa_stats("nofs/1"), errors.NotFound, ""),
    ("xa_dump missing", lambda mm, w: mm.pagecache.xa_dump("nofs/1"), errors.NotFound, ""),
    ("xa_tree too many nodes", lambda mm, w: mm.pagecache.xa_tree(w[1], 5000), errors.InvalidArgument, "max_nodes"),
    ("pagecache fault bad mapping", lambda mm, w: mm.pagecache.fault("", 0), errors.InvalidArgument, "mapping"),
    ("unmap_mapping_range bad mapping", lambda mm, w: mm.rmap.unmap_mapping_range("", 0), errors.InvalidArgument, ""),
    ("write_memory pid 0", lambda mm, w: Process(mm, 0, "").write_memory(w[3].start, b"x"), errors.InvalidArgument, "pid"),
    ("exit unknown pid", lambda mm, w: mm.rmap_call("Exit", __import__("mmsim.v1.reverse_map_pb2", fromlist=["x"]).ExitRequest(pid=999999)),
     errors.NotFound, ""),
    ("trace bad id", lambda mm, w: mm.trace("xyz"), errors.InvalidArgument, "trace_id"),
    ("echo too many round trips", lambda mm, w: mm.echo(redis_round_trips=65), errors.InvalidArgument, "64"),
    ("traces limit", lambda mm, w: mm.traces(5000), errors.InvalidArgument, "limit"),
    ("unknown target service", lambda mm, w: Cluster.connect(mm.settings, target="disk=1.2.3.4:5"), errors.InvalidArgument, "target"),
]


@pytest.mark.parametrize("case,call,cls,words", BAD, ids=[b[0] for b in BAD])
def test_bad_input_raises_the_precise_class(mm, world, case, call, cls, words):
    free = mm.vmstat()["nr_free_pages"]
    with pytest.raises(cls) as err:
        call(mm, world)
    assert isinstance(err.value, errors.MmsimError) and err.value.code != "INTERNAL", err.value
    assert words in err.value.message, err.value
    assert err.value.to_dict() == {"code": err.value.code, "message": err.value.message}
    assert mm.vmstat()["nr_free_pages"] == free           # no state changed (no page leaked or taken)


def test_out_of_memory_kills_a_process(mm):
    """pagefault_out_of_memory through the client: the OOM killer kills the process with the largest RSS. Last
    but one in this module: the victim may be any process of the session stack, this module's included (which
    one is tests/integration/test_reclaim.py's subject)."""
    hog = mm.spawn("hog")
    f = mm.mkfs("oom" + secrets.token_hex(3)).create("/anon")
    f.truncate(64 * PAGE_SIZE)
    vma = hog.mmap(f, 64 * PAGE_SIZE, prot="rw", shared=False)
    assert hog.write_memory(vma.start, b"h" * (64 * PAGE_SIZE)).ok      # 64 anonymous pages
    before = mm.vmstat()["oom_kill"]
    oom = mm.allocator.out_of_memory()
    assert oom.killed and oom.message.startswith(f"Out of memory: Killed process {oom.pid} ")
    assert mm.process(oom.pid).status().state == "killed" and mm.vmstat()["oom_kill"] == before + 1
    _json(oom)


def test_every_rpc_has_a_client_method(mm):
    """Runs last in this module: each RPC of every service was called through a client method above."""
    missing = set(methods.INSPECTION) - CALLED - {methods.full_name("allocator", "Reset")}
    assert not missing, sorted(missing)
