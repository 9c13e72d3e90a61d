"""Memory pressure (issue 10): reclaim through the reverse map and the filesystem, shadows and refaults, the
GFP context that decides whether reclaim may re-enter the filesystem, and the OOM killer.

Private stacks of 4 MiB (1024 pages: min/low/high watermarks 64/80/96 pages), reset before each test; the
lockdep demonstrations run with vm.dirty_ratio 100 (MMSIM_DIRTY_RATIO): no dirty throttling, so the writer's
own dirty folios are all reclaim can find.
"""

from __future__ import annotations

import asyncio
import json
import os

import grpc
import pytest

from typer.testing import CliRunner

from mmsim import errors, pressure
from mmsim.cli import app
from mmsim.cli_base import EXIT_USAGE
from mmsim.allocator import gfp as G
from mmsim.client import PAGE_SIZE, Cluster, new_traceparent
from mmsim.runtime import locks, redis_client, scope
from mmsim.runtime.wire import gfp_to_proto
from mmsim.v1 import filesystem_pb2, page_allocator_pb2


@pytest.fixture(scope="module")
def small(private_stack):
    with private_stack("mmsim-reclaim", MMSIM_MEMORY="4MiB", MMSIM_LOG_LEVEL="info") as settings:
        yield settings


@pytest.fixture(scope="module")
def unthrottled(private_stack):
    with private_stack("mmsim-reclaim-dirty", MMSIM_MEMORY="4MiB", MMSIM_DIRTY_RATIO="100",
                       MMSIM_LOG_LEVEL="info") as settings:
        yield settings


def _connect(settings):
    cluster = Cluster.connect(settings)
    cluster.reset()
    return cluster


@pytest.fixture()
def mm(small):
    with _connect(small) as cluster:
        yield cluster


@pytest.fixture()
def mmd(unthrottled):
    with _connect(unthrottled) as cluster:
        yield cluster


def test_zoneinfo_shows_the_watermarks_kswapd_works_between(mm):
    info = mm.allocator.zoneinfo()
    (zone,) = info.zones
    assert (zone.zone, zone.managed, zone.min, zone.low, zone.high) == ("DMA", 1024, 64, 80, 96)
    assert "Node 0, zone      DMA\n  per-node stats\n      nr_inactive_anon 0" in info.text
    assert "\n        min      64\n        low      80\n        high     96\n" in info.text


def test_pressure_workload_reclaims_and_loses_no_byte(mm):
    rounds = int(os.environ.get("MMSIM_PRESSURE_ROUNDS", "1"))   # make soak: more
    r = pressure.run(mm, factor=2.0, files=4, processes=3, rounds=rounds, accesses=16, seed=1)
    assert r.file_pages == 2 * r.memory_pages
    assert r.ok, (r.mismatches, r.violations)
    assert r.bytes_verified == r.file_pages * PAGE_SIZE   # every byte, the dirty ones written back by reclaim
    v = r.vmstat
    assert v["pgsteal_kswapd"] + v["pgsteal_direct"] >= r.file_pages - r.memory_pages
    assert v["pgscan_kswapd"] >= v["pgsteal_kswapd"] and v["pgscan_direct"] >= v["pgsteal_direct"]
    assert v["nr_vmscan_write"] > 0 and v["pageoutrun"] > 0
    vm = mm.vmstat()
    assert vm["nr_inactive_file"] + vm["nr_active_file"] == vm["nr_file_pages"]


def test_refaults_of_evicted_pages_are_counted(mm):
    fs = mm.mkfs("ws")
    hot, filler = fs.create("/hot"), fs.create("/filler")
    hot.write(0, b"h" * (64 * PAGE_SIZE))
    hot.fsync()
    proc = mm.spawn("reader")
    vma = proc.mmap(hot, 64 * PAGE_SIZE)
    assert proc.read(vma.start, 64 * PAGE_SIZE) == b"h" * (64 * PAGE_SIZE)
    proc.munmap(vma)
    for off in range(0, 2048 * PAGE_SIZE, 256 << 10):   # twice the memory through the cache: hot is evicted
        filler.write(off, b"f" * (256 << 10))
        filler.fsync()
    evicted = 0
    for index in range(64):
        evicted += not hot.find_folio(index).found
    assert evicted > 0
    before = mm.vmstat()
    vma = proc.mmap(hot, 64 * PAGE_SIZE)
    assert proc.read(vma.start, 64 * PAGE_SIZE) == b"h" * (64 * PAGE_SIZE)
    after = mm.vmstat()
    refaults = after["workingset_refault_file"] - before["workingset_refault_file"]
    # each page evicted before the re-read left a shadow: the folio that fills its index again is a refault
    # (counted in the pages of that folio, as workingset_refault does)
    assert evicted <= refaults and after["pgmajfault"] > before["pgmajfault"]
    assert mm.check().ok


def _write(mm, mapping: str, data: bytes, metadata) -> None:
    """Filesystem.Write with the given call metadata (trace context, held locks); typed errors."""
    try:
        mm.stubs["filesystem"].Write(filesystem_pb2.WriteRequest(mapping=mapping, offset=0, data=data), metadata=metadata)
    except grpc.RpcError as exc:
        raise errors.from_rpc_error(exc) from None


def _fill_under_the_lock(mm, context: str):
    """One write(2) bigger than memory, under the inode lock it holds throughout (kswapd's trylock fails):
    reclaim meets only this file's dirty folios."""
    fs = mm.mkfs("ctx" + context.replace("_", ""), alloc_context=context)
    f = fs.create("/big")
    trace_id, traceparent = new_traceparent()
    with pytest.raises(errors.ResourceExhausted) as err:
        _write(mm, f.mapping, b"d" * (4000 << 10), [("traceparent", traceparent)])
    assert "ENOMEM" in err.value.message
    return f, mm.trace(trace_id)


@pytest.mark.parametrize("context, reported", [("none", True), ("gfp_nofs", False), ("scope", False)])
def test_reclaim_reenters_the_filesystem_only_with_gfp_kernel(mmd, context, reported):
    mm = mmd
    before = mm.vmstat().get("mmsim_lockdep_reclaim_recursion", 0)
    f, tree = _fill_under_the_lock(mm, context)
    reports = [e for e in tree.events("lockdep") if "possible recursive locking" in e.attributes.get("report", "")]
    assert bool(reports) == reported
    assert (mm.vmstat().get("mmsim_lockdep_reclaim_recursion", 0) > before) == reported
    failed = tree.events("pageout_failed")
    if reported:   # the writeback was refused with a clear status, not a hang
        assert failed and all(e.attributes["status"] == "FAILED_PRECONDITION" for e in failed)
        assert "EDEADLK" in failed[0].attributes["reason"]
    else:          # NOFS: never entered the filesystem; the trace says how many dirty pages it had to skip
        assert not failed
        shrinks = tree.events("mm_vmscan_lru_shrink_inactive")
        assert shrinks and sum(int(e.attributes["dirty_skipped"]) for e in shrinks) > 0
    f.fsync()
    assert f.read(0, 4096) == b"d" * 4096
    assert mm.check().ok


def test_gfp_nolockdep_silences_the_report_not_the_refusal(mmd, unthrottled):
    mm, small = mmd, unthrottled
    fs = mm.mkfs("nolockdep", alloc_context="scope")
    f = fs.create("/big")

    async def run():
        redis = redis_client.connect(small.redis_url)
        try:
            async with locks.Locks(redis, 60000, 10).hold(locks.I_RWSEM, f.mapping, locks.WRITE) as grant:
                held = (scope.HELD_LOCKS_KEY, grant.lock.encode())
                await asyncio.to_thread(body, held)
        finally:
            await redis.aclose()

    def alloc(held, gfp):
        trace_id, traceparent = new_traceparent()
        with pytest.raises(grpc.RpcError) as err:
            mm.stubs["allocator"].AllocPages(page_allocator_pb2.AllocPagesRequest(order=0, gfp=gfp_to_proto(int(gfp))),
                                             metadata=[("traceparent", traceparent), held])
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        return mm.trace(trace_id)

    def body(held):
        with pytest.raises(errors.ResourceExhausted):   # memory full of /big's dirty folios, the lock held
            _write(mm, f.mapping, b"n" * (4000 << 10), [held])
        loud = alloc(held, G.GFP_KERNEL)
        quiet = alloc(held, int(G.GFP_KERNEL) | int(G.__GFP_NOLOCKDEP))
        assert [e for e in loud.events("lockdep") if "possible recursive locking" in e.attributes["report"]]
        assert not [e for e in quiet.events("lockdep") if "recursive" in e.attributes.get("report", "")]
        for tree in (loud, quiet):
            assert [e for e in tree.events("pageout_failed") if "EDEADLK" in e.attributes["reason"]]

    asyncio.run(run())
    assert mm.check().ok


def test_oom_kills_the_largest_process_and_the_others_keep_their_data(mm):
    # kernel memory nobody can reclaim or kill takes most of the machine; what is left goes to anonymous pages
    pinned = [mm.allocator.alloc_pages(order) for order in (9, 8, 7)]
    fs = mm.mkfs("oom", max_folio_order=0)
    f = fs.create("/anon")
    f.truncate(1 << 20)
    procs = {}
    for name, pages in (("big", 30), ("mid", 15), ("small", 8)):
        p = mm.spawn(name)
        vma = p.mmap(f, 1 << 20, prot="rw", shared=False)   # private: every store is an anonymous page
        data = bytes([len(procs) + 65]) * (pages * PAGE_SIZE)
        assert p.write_memory(vma.start, data).ok
        procs[name] = (p, vma, data)
    p, vma, data = procs["small"]
    more = b"s" * (40 * PAGE_SIZE)       # anonymous pages are unevictable without swap: only a kill helps
    res = p.write_memory(vma.start + len(data), more)
    assert res.ok, res.vm_fault
    victim = procs["big"][0]
    st = victim.status()
    assert st.state == "killed" and st.killed_reason.startswith(f"Out of memory: Killed process {victim.pid} (big)")
    assert mm.vmstat()["oom_kill"] == 1
    for name in ("mid", "small"):
        p, vma, data = procs[name]
        assert p.status().state == "running"
        assert p.read(vma.start, len(data)) == data
    assert procs["small"][0].read(vma.start + len(data), len(more)) == more
    with pytest.raises(errors.FailedPrecondition, match="Out of memory"):
        victim.read(procs["big"][1].start, PAGE_SIZE)
    for a in pinned:
        mm.allocator.free_pages(a.folio.pfn, a.folio.order)
    assert mm.check().ok


@pytest.mark.parametrize("argv, code", [
    (["pressure", "--factor", "1.5", "--files", "2", "--processes", "1", "--rounds", "1", "--accesses", "4"], 0),
    (["pressure", "--factor", "0"], EXIT_USAGE),
    (["pressure", "--alloc-context", "sometimes"], EXIT_USAGE),
    (["pressure", "--files", "0"], EXIT_USAGE),
])
def test_pressure_command(mm, small, argv, code):
    for extra in ([], ["--json"]) if code == 0 else ([],):
        out = CliRunner().invoke(app, argv + extra, env=small.env())
        assert out.exit_code == code, out.output
        assert "Traceback" not in out.output
        if extra:
            data = json.loads(out.stdout)
            assert data["ok"] and data["bytes_verified"] == data["file_pages"] * PAGE_SIZE
            assert data["vmstat"]["pgsteal_kswapd"] + data["vmstat"]["pgsteal_direct"] > 0
        elif code == 0:
            assert "reclaimed by kswapd" in out.stdout and "pgscan_kswapd" in out.stdout


def test_accesses_through_present_ptes_make_them_young(mm):
    """access_process_vm through PTEs already there sets their accessed (young) bit, which folio_referenced
    reads and clears: a mapping read between reclaim passes is found referenced at each one and stays
    resident (no major fault), while a mapping read once is unmapped and evicted on its second pass."""
    fs = mm.mkfs("young", max_folio_order=0)
    hot, cold = fs.create("/hot"), fs.create("/cold")
    filler = mm.mkfs("filler").create("/filler")   # large folios: the pressure costs few allocations
    size = 16 * PAGE_SIZE
    for f, c in ((hot, b"h"), (cold, b"c")):
        f.write(0, c * size)
        f.fsync()
    proc = mm.spawn("toucher")
    hv, cv = proc.mmap(hot, size), proc.mmap(cold, size)
    assert proc.read(hv.start, size) == b"h" * size and proc.read(cv.start, size) == b"c" * size
    faults = proc.status().maj_flt
    step = 64 * PAGE_SIZE
    for off in range(0, 2560 * PAGE_SIZE, step):   # 2.5 times the memory through the cache, hot read in between
        filler.write(off, b"f" * step)
        filler.fsync()
        assert proc.read(hv.start, size) == b"h" * size   # through the PTEs the first read left
    assert proc.status().maj_flt == faults                 # hot was never evicted under its PTEs
    assert all(hot.find_folio(i).found for i in range(16))
    assert not any(cold.find_folio(i).found for i in range(16))
    assert proc.read(cv.start, size) == b"c" * size and proc.status().maj_flt > faults
    assert mm.check().ok


def test_check_verifies_the_lru_lists(mm, small):
    """mmsim check: every cached folio on exactly one LRU list (the one PG_active names), nothing else on
    the lists, nr_inactive_file / nr_active_file equal to the lists' pages."""
    import redis  # noqa: PLC0415

    fs = mm.mkfs("lru")
    f = fs.create("/l")
    f.write(0, b"l" * (4 * PAGE_SIZE))
    found = f.find_folio(0)
    pfn = found.folio.pfn
    r = redis.Redis.from_url(small.redis_url)
    inactive, vm = "mmsim:{node:0}:lru:inactive_file", "mmsim:{node:0}:vmstat"
    assert r.zscore(inactive, str(pfn)) is not None
    report = mm.check()
    assert report.ok and report.checked["lru_pages"] == mm.vmstat()["nr_file_pages"] == 4
    score = r.zscore(inactive, str(pfn))
    try:
        r.zrem(inactive, str(pfn))      # off the list, the counter not told
        rules = {(v.rule, v.pfn) for v in mm.check().violations}
        assert ("lru_folio_not_on_lru", pfn) in rules and ("lru_size", -1) in rules, rules
        r.zadd("mmsim:{node:0}:lru:active_file", {str(pfn): score})   # on the active list, PG_active clear
        r.hincrby(vm, "nr_inactive_file", -(1 << found.folio.order))
        r.hincrby(vm, "nr_active_file", 1 << found.folio.order)
        rules = {(v.rule, v.pfn) for v in mm.check().violations}
        assert rules == {("lru_folio_active_flag", pfn)}, rules
        r.zadd(inactive, {str(pfn): score})
        rules = {v.rule for v in mm.check().violations}
        assert "lru_folio_on_two_lists" in rules and "lru_size" in rules, rules
    finally:
        r.zrem("mmsim:{node:0}:lru:active_file", str(pfn))
        r.zadd(inactive, {str(pfn): score})
        r.hset(vm, mapping={"nr_inactive_file": 4, "nr_active_file": 0})
    assert mm.check().ok
    f.truncate(0)
    r.zadd(inactive, {str(pfn): score})   # a freed page left on a list
    rules = {(v.rule, v.pfn) for v in mm.check().violations}
    assert ("lru_freed_page", pfn) in rules, rules
    r.zrem(inactive, str(pfn))
    assert mm.check().ok


def test_the_reclaim_switch_off_lets_a_full_machine_fail(private_stack):
    """MMSIM_RECLAIM=0 (reclaim, compaction and the OOM killer off): clean page cache fills the machine and the
    next allocation fails, where reclaim would have dropped it; the OOM killer says it is off."""
    with private_stack("mmsim-noreclaim", MMSIM_MEMORY="4MiB", MMSIM_RECLAIM="0", MMSIM_LOG_LEVEL="info") as settings:
        with _connect(settings) as mm:
            f = mm.mkfs("full").create("/f")
            with pytest.raises(errors.ResourceExhausted):
                for off in range(0, 2048 * PAGE_SIZE, 256 << 10):   # twice the memory, clean after each fsync
                    f.write(off, b"c" * (256 << 10))
                    f.fsync()
            assert mm.vmstat()["pgsteal_kswapd"] + mm.vmstat()["pgsteal_direct"] == 0
            oom = mm.allocator.out_of_memory()
            assert not oom.killed and "MMSIM_RECLAIM=0" in oom.message
            assert mm.check().ok


def _fault_through(proc, vma, pages: int) -> list[tuple[int, int]]:
    """Fault a mapping in page by page (the readahead ramp grows the folios); (order, pfn) of each folio."""
    out, i = [], 0
    while i < pages:
        r = proc.fault(vma.start + i * PAGE_SIZE)
        assert r.ok, r.vm_fault
        out.append((r.folio_order, r.folio_pfn))
        i += max(1, r.pages_mapped)
    return out


def _compaction_stats(mm) -> dict:
    v = mm.vmstat()
    return {k: v.get(k, 0) for k in ("compact_stall", "compact_success", "compact_fail", "compact_migrate_scanned",
                                     "compact_free_scanned", "compact_isolated", "pgmigrate_success")}


def test_compaction_gives_a_fragmented_machine_its_large_folios(mm):
    """mmsim fragment --movable leaves only single free pages between movable ones: each large-folio
    allocation of the faults stalls in direct compaction, which migrates the movable pages of a block (a
    mapped page-cache file among them, moved under its PTEs) and gets its folio."""
    mapped = mm.mkfs("mapped", max_folio_order=0).create("/a")   # order-0 folios at the lowest pfns
    data = bytes(range(256)) * (16 * 64)
    mapped.write(0, data)
    mapped.fsync()
    holder = mm.spawn("holder")
    va = holder.mmap(mapped, len(data))
    assert holder.read(va.start, len(data)) == data
    pfns = [mapped.find_folio(i).folio.pfn for i in range(64)]
    big = mm.mkfs("big").create("/b")
    big.write(0, b"b" * (64 * PAGE_SIZE))
    big.fsync()
    big.fadvise_dontneed()
    frag = mm.allocator.fragment(max_free_order=0, movable=True)
    try:
        assert frag.pinned > 0 and all(c == "0" for c in mm.allocator.buddyinfo().split()[5:])
        proc = mm.spawn("faulter")
        vb = proc.mmap(big, 64 * PAGE_SIZE)
        folios = _fault_through(proc, vb, 64)
        st = _compaction_stats(mm)
        assert max(o for o, _ in folios) >= 3, folios               # the ramp got its large folios
        assert st["compact_stall"] >= 1 and st["compact_success"] >= 1 and st["pgmigrate_success"] > 0, st
        assert st["compact_migrate_scanned"] > 0 and st["compact_free_scanned"] > 0 and st["compact_isolated"] > 0
        assert proc.read(vb.start, 64 * PAGE_SIZE) == b"b" * (64 * PAGE_SIZE)
        moved = sum(mapped.find_folio(i).folio.pfn != pfns[i] for i in range(64))
        assert moved > 0                                             # migrated, not reclaimed:
        assert holder.read(va.start, len(data)) == data and holder.status().maj_flt == 0   # the PTEs followed
        assert mm.check().ok
    finally:
        mm.allocator.unfragment()
    assert mm.check().ok


def test_unmovable_pages_block_compaction_of_their_pageblock(mm):
    """Pinned fragmentation (the fragmenter's default) leaves compaction nothing to move: the faults fall back
    to small pages and compact_fail counts it. With movable fragmentation, one unmovable kernel page in the
    first pageblock makes the scanner skip that pageblock: the large folios come from the second."""
    big = mm.mkfs("big").create("/b")
    big.write(0, b"b" * (64 * PAGE_SIZE))
    big.fsync()
    big.fadvise_dontneed()
    mm.allocator.fragment(max_free_order=0)
    try:
        proc = mm.spawn("faulter")
        assert {o for o, _ in _fault_through(proc, proc.mmap(big, 64 * PAGE_SIZE), 64)} == {0}
        st = _compaction_stats(mm)
        assert st["compact_fail"] >= 1 and st["compact_success"] == 0 and st["pgmigrate_success"] == 0, st
        proc.exit()
    finally:
        mm.allocator.unfragment()
    big.fadvise_dontneed()
    mm.allocator.fragment(max_free_order=0, movable=True)
    kernel = mm.allocator.alloc_pages(0, "GFP_KERNEL")            # the lowest free pfn: pageblock 0
    try:
        assert kernel.folio.pfn < 512
        proc = mm.spawn("faulter2")
        folios = _fault_through(proc, proc.mmap(big, 64 * PAGE_SIZE), 64)
        large = [pfn for o, pfn in folios if o > 0]
        assert large and all(pfn >= 512 for pfn in large), folios
        assert mm.check().ok
    finally:
        mm.allocator.free_pages(kernel.folio.pfn, 0)
        mm.allocator.unfragment()
    assert mm.check().ok


def test_fragment_movable_command(mm, small):
    """mmsim fragment --movable: no free block above order 0, yet an order-4 allocation gets its block through
    compaction; bad input is a usage error without a traceback."""
    out = CliRunner().invoke(app, ["fragment", "--movable", "--json"], env=small.env())
    assert out.exit_code == 0 and "Traceback" not in out.output, out.output
    assert json.loads(out.stdout)["pinned"] > 0
    block = mm.allocator.alloc_pages(4, "GFP_KERNEL")
    assert block.folio.order == 4 and mm.vmstat()["compact_success"] == 1
    mm.allocator.free_pages(block.folio)
    out = CliRunner().invoke(app, ["unfragment"], env=small.env())
    assert out.exit_code == 0 and "pages given back" in out.stdout
    bad = CliRunner().invoke(app, ["fragment", "--movable", "--max-free-order", "11"], env=small.env())
    assert bad.exit_code == EXIT_USAGE and "Traceback" not in bad.output
    assert mm.check().ok
