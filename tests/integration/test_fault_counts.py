"""Hops and Redis round trips per fault are constant whatever the folio's order (counts, not times), as the
spans of a real stack report them, over gRPC and in-process alike, from a file's first fault on (every script
is loaded when the services start: no first use pays a NOSCRIPT and an EVAL).

Issue 16's budget: a minor fault at most 2 hops and 2 round trips, a major fault at most 5 hops and 6."""

from __future__ import annotations

from mmsim.client import PAGE_SIZE, Cluster
from mmsim.runtime import config
from mmsim.runtime.redis_server import start_redis

# (hops, Redis round trips)
MINOR = (1, 1)    # HandleFault alone: FAULT_BEGIN's filemap_map_pages finds the folio and maps it
MINOR_NO_AROUND = (2, 3)   # fault-around off: ->fault (PageCache.Fault, 1) between FAULT_BEGIN and FINISH_FAULT
MAJOR = (5, 6)    # FAULT_BEGIN, FINISH_FAULT; PageCache.Fault (1) -> Filesystem.Populate (1: the lock, inode and reads)
#                   -> PageAllocator.AllocPages (1), PageCache.AddFolio (1: insert, contents, counts, unlock)
SIZE = 4 << 20    # the readahead ramp reaches order 9 (the profile's largest) past the first 2 MiB
MAX_ORDER = 9


def scan(mm: Cluster, name: str, size: int = SIZE) -> tuple[dict[int, set], dict[int, set]]:
    """Touch a file's pages in order from one process (major faults, the readahead ramp grows the folio order)
    then from another (minor faults); {folio order: {(hops, round trips)}} of each kind."""
    fs = mm.mkfs(name, block_size=4096, max_folio_order=MAX_ORDER)
    f = fs.create("/data")
    for off in range(0, size, 1 << 20):
        f.write(off, b"\x77" * (1 << 20))
    f.fsync()
    f.fadvise_dontneed()
    major: dict[int, set] = {}
    minor: dict[int, set] = {}
    for proc, seen, want_major in ((mm.spawn("counts-major"), major, True), (mm.spawn("counts-minor"), minor, False)):
        vma = proc.mmap(f, size, shared=True)
        addr = vma.start
        while addr < vma.end:
            r = proc.fault(addr)
            if r.spurious:   # fault-around mapped it already: not a fault of the kind counted here
                addr += PAGE_SIZE
                continue
            assert r.ok and r.major == want_major, (hex(addr), r)
            tree = mm.trace(r.trace_id, timeout=120)
            assert tree.complete, r.trace_id
            seen.setdefault(r.folio_order, set()).add((tree.hops, tree.redis_round_trips))
            page = (addr - vma.start) // PAGE_SIZE - (r.pfn - r.folio_pfn)   # the folio's first page
            addr = vma.start + (page + (1 << r.folio_order)) * PAGE_SIZE     # the next folio
        proc.exit()
    return major, minor


def check(major: dict[int, set], minor: dict[int, set], want_minor=MINOR) -> None:
    for kind, seen in (("major", major), ("minor", minor)):
        assert {0, MAX_ORDER} <= set(seen), f"{kind} faults should reach orders 0 and {MAX_ORDER}, got {sorted(seen)}"
    for order, counts in major.items():
        assert counts == {MAJOR}, f"major fault at order {order}: (hops, round trips) {counts}, want {MAJOR}"
    for order, counts in minor.items():
        assert counts == {want_minor}, f"minor fault at order {order}: (hops, round trips) {counts}, want {want_minor}"


def test_fault_counts_are_constant_at_every_folio_order(mm):
    check(*scan(mm, "counts"))


def _inproc(tmp_path, **env):
    redis = start_redis(workdir=tmp_path / "redis")
    settings = config.load({**config.load().env(), "MMSIM_REDIS_URL": redis.url, "MMSIM_STATE_DIR": str(tmp_path),
                            "MMSIM_TRANSPORT": "inproc", **env})
    return redis, settings


def test_inproc_fault_counts_are_the_same(tmp_path):
    redis, settings = _inproc(tmp_path)
    try:
        with Cluster.connect(settings) as mm:
            check(*scan(mm, "counts"))
    finally:
        redis.stop()


def test_without_fault_around_a_minor_fault_goes_through_the_page_cache(tmp_path):
    """fault_around_bytes = PAGE_SIZE: should_fault_around is false, do_read_fault calls ->fault."""
    redis, settings = _inproc(tmp_path, MMSIM_FAULT_AROUND_BYTES="4096")
    try:
        with Cluster.connect(settings) as mm:
            check(*scan(mm, "noaround"), want_minor=MINOR_NO_AROUND)
    finally:
        redis.stop()


def test_a_write_into_a_cached_folio_costs_the_same_at_every_order(mm):
    """write(2) over one whole cached folio: Write, then one WriteFolio (the copy and folio_mark_dirty in one
    script), whatever the folio's order; the folios come from the readahead ramp of filemap_fault."""
    fs = mm.mkfs("wcounts", block_size=4096, max_folio_order=MAX_ORDER)
    f = fs.create("/data")
    for off in range(0, SIZE, 1 << 20):   # the 4 MiB message limit
        f.write(off, b"\x11" * (1 << 20))
    f.fsync()
    f.fadvise_dontneed()
    folios, idx = [], 0
    while idx < SIZE // PAGE_SIZE:
        r = mm.pagecache.fault(f, idx)
        folios.append((r.folio_index, r.folio.order))
        idx = r.folio_index + (1 << r.folio.order)
    seen: dict[int, set] = {}
    for index, order in folios:
        data = bytes([order + 1]) * (PAGE_SIZE << order)
        assert f.write(index * PAGE_SIZE, data) == len(data)
        tree = mm.trace(mm.last_trace_id, timeout=120)
        assert tree.complete, mm.last_trace_id
        seen.setdefault(order, set()).add((tree.hops, tree.redis_round_trips))
    assert {0, MAX_ORDER} <= set(seen), sorted(seen)
    assert len({c for counts in seen.values() for c in counts}) == 1, seen
    assert next(iter(seen[0]))[0] == 2, seen                  # Write + WriteFolio
    want = b"".join(bytes([o + 1]) * (PAGE_SIZE << o) for _, o in folios)
    assert b"".join(f.read(off, 1 << 20) for off in range(0, SIZE, 1 << 20)) == want
