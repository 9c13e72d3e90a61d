"""The anonymous LRU lists (issue 10): a COW page goes on its node's inactive anon list when the fault makes it
(mm/memory.c wp_page_copy / do_cow_fault -> folio_add_lru_vma), stays there shared after fork, and leaves
when its last reference goes (munmap, exit, the OOM killer); /proc/vmstat and /proc/meminfo count the lists;
`mmsim check` verifies them. Without swap reclaim scans only the file lists (get_scan_count's SCAN_FILE):
file pages go, anonymous pages stay, and only the OOM killer frees them.

A private 4 MiB stack (1024 pages, min/low/high 64/80/96), reset before each test.
"""

from __future__ import annotations

import json
import os

import pytest
import redis
from typer.testing import CliRunner

from mmsim.cli import app
from mmsim.cli_base import EXIT_USAGE
from mmsim.client import PAGE_SIZE, Cluster

INACTIVE, ACTIVE, VMSTAT = "mmsim:{node:0}:lru:inactive_anon", "mmsim:{node:0}:lru:active_anon", "mmsim:{node:0}:vmstat"


@pytest.fixture(scope="module")
def small(private_stack):
    with private_stack("mmsim-anon-lru", MMSIM_MEMORY="4MiB", MMSIM_LOG_LEVEL="info") as settings:
        yield settings


@pytest.fixture()
def mm(small):
    with Cluster.connect(small) as cluster:
        cluster.reset()
        yield cluster


@pytest.fixture()
def r(small):
    client = redis.Redis.from_url(small.redis_url)
    yield client
    client.close()


def _anon(mm, pages: int, name: str = "anon", fill: bytes = b"a", room: int = 0):
    """A process with `pages` anonymous pages (private stores into a file mapping, each a COW copy) in a
    mapping of `pages + room` pages."""
    fs = mm.mkfs(f"fs-{name}", max_folio_order=0)
    f = fs.create(f"/{name}")
    f.truncate((pages + room) * PAGE_SIZE)
    proc = mm.spawn(name)
    vma = proc.mmap(f, (pages + room) * PAGE_SIZE, prot="rw", shared=False)
    data = fill * (pages * PAGE_SIZE)
    assert proc.write_memory(vma.start, data).ok
    return proc, vma, data


def _rules(mm) -> set[tuple[str, int]]:
    """(rule, pfn) of every violation `mmsim check` reports."""
    return {(v.rule, v.pfn) for v in mm.check().violations}


def _flags(mm, pfn: int) -> set[str]:
    return set(mm.allocator.get_page(pfn).flags)


def test_a_cow_page_goes_on_the_inactive_anon_list_and_leaves_it_when_freed(mm, r):
    proc, vma, _ = _anon(mm, 4)
    pfns = [proc.fault(vma.start + i * PAGE_SIZE).pfn for i in range(4)]
    vm = mm.vmstat()
    assert vm["nr_inactive_anon"] == 4 and vm["nr_active_anon"] == 0 and vm["nr_anon_pages"] == 4
    for pfn in pfns:
        assert r.zscore(INACTIVE, str(pfn)) is not None and r.zscore(ACTIVE, str(pfn)) is None
        flags = _flags(mm, pfn)
        # folio_add_new_anon_rmap sets PG_swapbacked, folio_add_lru PG_lru; a new anonymous page starts inactive
        assert {"lru", "swapbacked"} <= flags and "active" not in flags, flags
    mi = mm.allocator.meminfo()
    assert mi["Inactive(anon)"] == 16 and mi["Active(anon)"] == 0 and mi["Inactive"] == 16 + mi["Inactive(file)"]
    text = mm.allocator.meminfo_text()
    assert "\nInactive(anon):       16 kB\n" in text and "\nActive(anon):          0 kB\n" in text
    assert mm.check().ok

    # fork shares the pages (COW): still one list entry each; the child's write copies: one more page
    child = proc.fork()
    assert mm.vmstat()["nr_inactive_anon"] == 4
    assert child.write_memory(vma.start, b"c").ok
    new = child.fault(vma.start).pfn
    assert new not in pfns and r.zscore(INACTIVE, str(new)) is not None
    assert mm.vmstat()["nr_inactive_anon"] == 5
    assert mm.check().ok

    # the parent's exit drops its references: the pages the child still maps stay, the COW'd one is freed
    proc.exit()
    assert r.zscore(INACTIVE, str(pfns[0])) is None and mm.vmstat()["nr_inactive_anon"] == 4
    assert mm.allocator.get_page(pfns[0]).refcount == 0
    assert mm.check().ok
    child.munmap(vma)
    assert mm.vmstat()["nr_inactive_anon"] == 0 and r.zcard(INACTIVE) == 0
    assert mm.check().ok


def test_check_verifies_the_anon_lists(mm, r):
    """mmsim check: a mapped anonymous page on no list, on both, on the wrong list for its PG_active, a list's
    counter off, a page-cache folio on an anon list, a freed page left on one: each is its rule."""
    proc, vma, _ = _anon(mm, 2)
    pfn = proc.fault(vma.start).pfn
    score = r.zscore(INACTIVE, str(pfn))
    try:
        r.zrem(INACTIVE, str(pfn))
        rules = _rules(mm)
        assert ("lru_anon_not_on_lru", pfn) in rules and ("lru_size", -1) in rules, rules
        r.zadd(ACTIVE, {str(pfn): score})    # on the active list, PG_active clear
        r.hincrby(VMSTAT, "nr_inactive_anon", -1)
        r.hincrby(VMSTAT, "nr_active_anon", 1)
        rules = _rules(mm)
        assert rules == {("lru_folio_active_flag", pfn)}, rules
        r.zadd(INACTIVE, {str(pfn): score})
        rules = {rule for rule, _ in _rules(mm)}
        assert "lru_folio_on_two_lists" in rules and "lru_size" in rules, rules
    finally:
        r.zrem(ACTIVE, str(pfn))
        r.zadd(INACTIVE, {str(pfn): score})
        r.hset(VMSTAT, mapping={"nr_inactive_anon": 2, "nr_active_anon": 0})
    assert mm.check().ok
    f = mm.mkfs("cache").create("/c")
    f.write(0, b"c" * PAGE_SIZE)
    cached = f.find_folio(0).folio.pfn
    r.zadd(INACTIVE, {str(cached): 1})
    r.hincrby(VMSTAT, "nr_inactive_anon", 1)
    rules = _rules(mm)
    assert ("lru_list_type", cached) in rules, rules
    r.zrem(INACTIVE, str(cached))
    r.hincrby(VMSTAT, "nr_inactive_anon", -1)
    proc.exit()
    r.zadd(INACTIVE, {str(pfn): score})   # a freed page left on the list
    rules = _rules(mm)
    assert ("lru_freed_page", pfn) in rules, rules
    r.zrem(INACTIVE, str(pfn))
    assert mm.check().ok


@pytest.mark.skipif(not os.environ.get("MMSIM_SOAK"), reason="make soak (about 25-60 s): reclaim down to the OOM kill")
def test_without_swap_reclaim_takes_the_file_pages_and_leaves_the_anon_pages_until_oom(mm):
    """get_scan_count's SCAN_FILE (no swap): memory filling with anonymous pages makes reclaim take the clean
    page cache, never an anonymous page (pgscan_anon / pgsteal_anon stay 0, every anon page stays on its list
    with its bytes); once the file pages are gone only the OOM killer frees memory: the largest process dies."""
    pinned = [mm.allocator.alloc_pages(order) for order in (9, 7)]   # 640 pages nobody can reclaim or kill
    try:
        cache = mm.mkfs("cache").create("/c")
        cache.write(0, b"f" * (64 * PAGE_SIZE))
        cache.fsync()
        assert mm.vmstat()["nr_file_pages"] == 64
        big, vbig, dbig = _anon(mm, 200, "big", b"B")
        small, vsmall, _ = _anon(mm, 70, "small", b"s", room=150)
        vm = mm.vmstat()
        # 640 + 64 file + 270 anonymous pages leave less than the min watermark (64) free: direct reclaim took
        # file pages, and no anonymous page
        assert vm["pgsteal_file"] > 0 and vm["nr_file_pages"] < 64, vm
        assert vm["nr_inactive_anon"] == vm["nr_anon_pages"] == 270 and vm["nr_active_anon"] == 0
        assert vm["pgscan_anon"] == vm["pgsteal_anon"] == vm["oom_kill"] == 0
        assert big.read(vbig.start, len(dbig)) == dbig
        assert mm.check().ok

        more = b"m" * (150 * PAGE_SIZE)   # 420 anonymous pages cannot fit: the file pages go, then a kill
        assert small.write_memory(vsmall.start + 70 * PAGE_SIZE, more).ok
        vm = mm.vmstat()
        assert vm["oom_kill"] == 1, vm
        assert not any(cache.find_folio(i).found for i in range(64))   # every page of the file went first
        st = big.status()
        assert st.state == "killed" and st.killed_reason.startswith(f"Out of memory: Killed process {big.pid} (big)")
        assert small.read(vsmall.start + 70 * PAGE_SIZE, len(more)) == more
        assert vm["pgscan_anon"] == vm["pgsteal_anon"] == 0
        assert vm["nr_inactive_anon"] == vm["nr_anon_pages"] == 220   # the victim's pages left the list with it
        assert mm.check().ok
    finally:
        for a in pinned:
            mm.allocator.free_pages(a.folio.pfn, a.folio.order)


def _pattern(i: int) -> bytes:
    return bytes((i * 7 + j) % 251 for j in range(256)) * 16


def test_compaction_migrates_anonymous_pages_under_their_ptes(mm, r):
    """The migrate scanner takes anonymous pages on the LRU: migrate_folio moves each (bytes, struct page, the
    anon LRU place) and remove_migration_ptes repoints every PTE the anon_vma walk finds, in the parent and the
    forked child alike; both still read their bytes without a fault, and the check is clean."""
    fs = mm.mkfs("fs-anon", max_folio_order=0)
    f = fs.create("/anon")
    f.truncate(64 * PAGE_SIZE)
    parent = mm.spawn("parent")
    vma = parent.mmap(f, 64 * PAGE_SIZE, prot="rw", shared=False)
    data = b"".join(_pattern(i) for i in range(64))
    assert parent.write_memory(vma.start, data).ok       # 64 anonymous pages at the lowest free pfns
    child = parent.fork()                                # each page mapped twice, through one anon_vma
    before = [parent.fault(vma.start + i * PAGE_SIZE).pfn for i in range(64)]
    faults = (parent.status().maj_flt, child.status().maj_flt)
    frag = mm.allocator.fragment(max_free_order=0, movable=True)
    blocks = []
    try:
        assert frag.pinned > 0
        blocks.append(mm.allocator.alloc_pages(4, "GFP_KERNEL"))   # the first block, made by compaction
        lo = blocks[0].folio.pfn
        vm = mm.vmstat()
        assert vm["compact_success"] >= 1 and vm["pgmigrate_success"] > 0, vm
        after = [parent.fault(vma.start + i * PAGE_SIZE).pfn for i in range(64)]
        moved = [i for i in range(64) if after[i] != before[i]]
        # the block's anonymous pages were migrated, not reclaimed (there is no swap)
        assert moved and moved == [i for i in range(64) if lo <= before[i] < lo + 16], (lo, before, after)
        assert [child.fault(vma.start + i * PAGE_SIZE).pfn for i in range(64)] == after
        assert parent.read(vma.start, len(data)) == data and child.read(vma.start, len(data)) == data
        assert (parent.status().maj_flt, child.status().maj_flt) == faults   # no refault: the PTEs followed
        for i in moved:
            m = mm.rmap.folio_mapcount(after[i], 0)
            assert m.per_process == {parent.pid: 1, child.pid: 1} and m.refcount == 2
            assert r.zscore(INACTIVE, str(after[i])) is not None and r.zscore(INACTIVE, str(before[i])) is None
        assert mm.vmstat()["nr_inactive_anon"] == 64
        assert mm.check().ok
    finally:
        for b in blocks:
            mm.allocator.free_pages(b.folio)
        mm.allocator.unfragment()
    assert mm.check().ok


def test_lru_command_shows_the_lists_and_the_scan_balance(mm, small):
    proc, vma, _ = _anon(mm, 3)
    f = mm.mkfs("cache").create("/c")
    f.write(0, b"c" * (2 * PAGE_SIZE))
    lists = mm.allocator.lru()
    assert (lists.inactive_anon, lists.active_anon, lists.scan_balance) == (3, 0, "SCAN_FILE")
    assert lists.inactive_file + lists.active_file == mm.vmstat()["nr_file_pages"]
    out = CliRunner().invoke(app, ["lru", "--json"], env=small.env())
    assert out.exit_code == 0 and "Traceback" not in out.output, out.output
    assert json.loads(out.stdout) == lists.to_dict()
    out = CliRunner().invoke(app, ["lru"], env=small.env())
    assert out.exit_code == 0 and "inactive_anon" in out.stdout and "SCAN_FILE" in out.stdout, out.output
    bad = CliRunner().invoke(app, ["lru", "extra"], env=small.env())
    assert bad.exit_code == EXIT_USAGE and "Traceback" not in bad.output
