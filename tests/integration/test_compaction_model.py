"""A hypothesis model of direct compaction (mm/compaction.c compact_zone, isolate_migratepages_block;
mm/migrate.c migrate_folio, remove_migration_ptes) against a real stack.

Each example builds a machine from a drawn program: anonymous pages written by a process and its forked
children (COW copies, shared after fork), page-cache pages of a file, unmovable kernel pages, and holes. Then
`fragment --movable` leaves no free block above order 0, and one order-N GFP_KERNEL allocation must be made by
compaction. The model is which pfns are free, movable or unmovable before it (from page_owner and what the
program allocated), and the bytes each process and the file show. After the allocation:

* the block is the first one the migrate scanner reaches (zone order, an unmovable page skips the rest of its
  pageblock) whose pages are all free or movable, whenever the zone is suitable (__compaction_suitable);
* every movable page of that block moved out of it; the unmovable pages stayed;
* every process reads its bytes and the file its bytes, byte for byte, with no new major fault;
* the rmap walk of every anonymous page finds exactly the (process, address) pairs the model says map it,
  FolioMapcount agrees, the page is on the anon LRU, and `mmsim check` is clean.

Bounded in `make test` (MMSIM_COMPACTION_EXAMPLES, 6 examples), larger in `make soak` (40). Derandomised: a
failing example is printed and replays from the same run.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmsim.allocator.zones import PAGEBLOCK_ORDER
from mmsim.client import PAGE_SIZE, Cluster

EXAMPLES = int(os.environ.get("MMSIM_COMPACTION_EXAMPLES", "6"))   # make soak: 40
PAGES = 16            # pages of the private mapping each process writes into
MIN_WMARK = 64        # the 4 MiB machine's min watermark (pages)

OPS = st.lists(st.one_of(
    st.tuples(st.just("anon"), st.integers(0, 3), st.integers(0, PAGES - 1)),   # a store by process #k into page i
    st.tuples(st.just("fork"), st.integers(0, 3), st.just(0)),                  # process #k forks
    st.tuples(st.just("cache"), st.just(0), st.integers(0, PAGES - 1)),         # write(2) into a file page
    st.tuples(st.just("kernel"), st.just(0), st.just(0)),                       # an unmovable page
    st.tuples(st.just("hole"), st.just(0), st.just(0)),                         # a page freed before fragmenting
), min_size=4, max_size=24)


@pytest.fixture(scope="module")
def small(private_stack):
    with private_stack("mmsim-compaction-model", MMSIM_MEMORY="4MiB", MMSIM_LOG_LEVEL="warning") as settings:
        yield settings


def _page_bytes(tag: int) -> bytes:
    return bytes((tag * 31 + j) % 253 for j in range(256)) * 16


def expected_block(kinds: list[str], order: int) -> int | None:
    """compact_zone's migrate scanner over the model: blocks of 2**order from the zone's start; a block with an
    unmovable page sends the scanner to the next pageblock; the first block of free and movable pages is made."""
    size, pfn = 1 << order, 0
    while pfn + size <= len(kinds):
        if "unmovable" not in kinds[pfn:pfn + size]:
            return pfn
        pfn = max(pfn + size, pfn - pfn % (1 << PAGEBLOCK_ORDER) + (1 << PAGEBLOCK_ORDER))
    return None


@pytest.mark.timeout(1800)   # make soak's size
def test_compaction_agrees_with_a_model_of_free_movable_and_unmovable_pages(small):
    r = redis.Redis.from_url(small.redis_url)
    mm = Cluster.connect(small)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, print_blob=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(ops=OPS, order=st.integers(1, 4))
    def run(ops, order):
        mm.reset()
        fs = mm.mkfs("cm", max_folio_order=0)
        private, shared = fs.create("/private"), fs.create("/shared")
        private.truncate(PAGES * PAGE_SIZE)
        shared.truncate(PAGES * PAGE_SIZE)
        first = mm.spawn("p0")
        vma = first.mmap(private, PAGES * PAGE_SIZE, prot="rw", shared=False)
        procs = [first]
        seen: list[dict[int, bytes]] = [{}]   # per process: page -> the bytes it stored (or inherited)
        file_bytes: dict[int, bytes] = {}
        kernel, holes = [], []
        for n, (op, k, i) in enumerate(ops):
            if op == "anon":
                p = k % len(procs)
                data = _page_bytes(n)
                assert procs[p].write_memory(vma.start + i * PAGE_SIZE, data).ok
                seen[p][i] = data
            elif op == "fork" and len(procs) < 4:
                p = k % len(procs)
                procs.append(procs[p].fork())
                seen.append(dict(seen[p]))
            elif op == "cache":
                file_bytes[i] = _page_bytes(1000 + n)
                shared.write(i * PAGE_SIZE, file_bytes[i])
            elif op == "kernel":
                kernel.append(mm.allocator.alloc_pages(0, "GFP_KERNEL").folio.pfn)
            elif op == "hole":
                holes.append(mm.allocator.alloc_pages(0, "GFP_KERNEL").folio.pfn)
        for pfn in holes:
            mm.allocator.free_pages(pfn, 0)
        mm.allocator.fragment(max_free_order=0, movable=True)
        try:
            # the model before compaction: what maps each anonymous page, and each pfn's kind
            maps: dict[int, set[tuple[int, int]]] = {}
            for p, proc in enumerate(procs):
                for i in seen[p]:
                    pfn = proc.fault(vma.start + i * PAGE_SIZE).pfn
                    maps.setdefault(pfn, set()).add((proc.pid, vma.start + i * PAGE_SIZE))
            movable = set(maps) | {int(x) for x in r.smembers("mmsim:{node:0}:frag:movable")}
            for f in (private, shared):
                movable |= {got.folio.pfn for i in range(PAGES) if (got := f.find_folio(i)).found}
            total = mm.allocator.zoneinfo().zones[0].managed
            kinds = ["free"] * total
            for head, own in r.hgetall("mmsim:{node:0}:owner").items():
                pfn, size = int(head), 1 << int(own.split(b":")[0])
                for q in range(pfn, min(pfn + size, total)):
                    kinds[q] = "movable" if pfn in movable else "unmovable"
            free = kinds.count("free")
            faults = [proc.status().maj_flt for proc in procs]
            want = expected_block(kinds, order)
            suitable = free - (1 << order) >= MIN_WMARK + (2 << order)
            got = mm.allocator.alloc_pages(order, "GFP_KERNEL").folio.pfn
            try:
                block = range(got, got + (1 << order))
                if want is not None and suitable:
                    assert got == want, (got, want, order, kinds[want:want + (1 << order)])
                assert all(kinds[q] != "unmovable" for q in block), [kinds[q] for q in block]
                assert mm.vmstat()["compact_success"] >= 1
                # contents: every process and the file, byte for byte; no refault
                for p, proc in enumerate(procs):
                    for i, data in seen[p].items():
                        assert proc.read(vma.start + i * PAGE_SIZE, PAGE_SIZE) == data, (p, i)
                for i, data in file_bytes.items():
                    assert shared.read(i * PAGE_SIZE, PAGE_SIZE) == data, i
                assert [proc.status().maj_flt for proc in procs] == faults
                # the PTEs: every anonymous page, wherever it is now, is mapped exactly as the model says
                now: dict[int, set[tuple[int, int]]] = {}
                for p, proc in enumerate(procs):
                    for i in seen[p]:
                        pfn = proc.fault(vma.start + i * PAGE_SIZE).pfn
                        now.setdefault(pfn, set()).add((proc.pid, vma.start + i * PAGE_SIZE))
                assert sorted(map(sorted, now.values())) == sorted(map(sorted, maps.values()))
                for pfn, want_maps in now.items():
                    assert pfn not in block
                    walk = mm.rmap.rmap_walk(pfn)
                    assert {(m.pid, m.address) for m in walk.mappings} == want_maps
                    assert mm.rmap.folio_mapcount(pfn).per_process == dict(Counter(pid for pid, _ in want_maps))
                    assert r.zscore("mmsim:{node:0}:lru:inactive_anon", str(pfn)) is not None
                assert mm.vmstat()["nr_inactive_anon"] == len(now)
                report = mm.check()
                assert report.ok, report.violations
            finally:
                mm.allocator.free_pages(got, order)
        finally:
            mm.allocator.unfragment()

    try:
        run()
    finally:
        mm.close()
        r.close()
