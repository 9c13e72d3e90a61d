"""Hops and Redis round trips per fault are constant whatever the folio's order (counts, not times), as the
spans report them, over gRPC and in-process alike (issue 16's budget: a minor fault 2 hops and at most 3
round trips, a major fault 5 hops and at most 10)."""

from __future__ import annotations

from mmsim.client import PAGE_SIZE, Cluster
from mmsim.runtime import config
from mmsim.runtime.redis_server import start_redis

MINOR = (2, 3)    # (hops, Redis round trips): HandleFault -> PageCache.Fault
MAJOR = (5, 9)    # ... -> Filesystem.Populate (4) -> PageAllocator.AllocPages, PageCache.AddFolio


def scan(mm: Cluster, size: int) -> tuple[dict[int, set], dict[int, set]]:
    """Touch a file's pages in order from one process (major faults, the readahead ramp grows the folio order)
    then from another (minor faults); {folio order: {(hops, round trips)}} of each kind."""
    fs = mm.mkfs(f"counts{size >> 10}", block_size=4096, max_folio_order=9)
    f = fs.create("/data")
    for off in range(0, size, 256 << 10):
        f.write(off, b"\x77" * (256 << 10))
    f.fsync()
    f.fadvise_dontneed()
    warm = fs.create("/warm-up")   # each script's first run on a Redis costs one more trip (NOSCRIPT, then EVAL)
    warm.write(0, b"w" * PAGE_SIZE)
    warm.fsync()
    warm.fadvise_dontneed()
    for proc, want_major in ((mm.spawn("warm-1"), True), (mm.spawn("warm-2"), False)):
        r = proc.fault(proc.mmap(warm, PAGE_SIZE).start)
        assert r.ok and r.major == want_major, r
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


def check(major: dict[int, set], minor: dict[int, set]) -> None:
    assert len(major) >= 3, f"the readahead ramp should give several folio orders, got {sorted(major)}"
    for order, counts in major.items():
        assert counts == {MAJOR}, f"major fault at order {order}: (hops, round trips) {counts}, want {MAJOR}"
    for order, counts in minor.items():
        assert counts == {MINOR}, f"minor fault at order {order}: (hops, round trips) {counts}, want {MINOR}"


def test_fault_counts_are_constant_at_every_folio_order(mm):
    check(*scan(mm, 1 << 20))


def test_inproc_fault_counts_are_the_same(tmp_path):
    redis = start_redis(workdir=tmp_path / "redis")
    try:
        settings = config.load({**config.load().env(), "MMSIM_REDIS_URL": redis.url, "MMSIM_STATE_DIR": str(tmp_path),
                                "MMSIM_TRANSPORT": "inproc"})
        with Cluster.connect(settings) as mm:
            check(*scan(mm, 1 << 20))
    finally:
        redis.stop()
