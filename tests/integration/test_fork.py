"""fork(2) against a real stack: dup_mmap copies VMAs (and MapMany runs), copy_present_pte makes private
anonymous pages copy-on-write in parent and child (both PTEs read-only, _mapcount/_refcount + 1, one
anon_vma that rmap walks search for both), the next write fault copies (wp_page_copy) or, once only one
mapping is left, reuses the page in place (wp_can_reuse_anon_folio). Cases after the kernel's
tools/testing/selftests/mm/cow.c: after fork, a write in either process is not seen by the other."""

from __future__ import annotations

import itertools

import pytest

from mmsim import errors
from mmsim.client import PAGE_SIZE, Process

_names = itertools.count()


@pytest.fixture()
def file(mm):
    f = mm.mkfs(f"fork{next(_names)}", profile="linux-6.12").create("/f")
    f.write(0, b"f" * 4 * PAGE_SIZE)
    return f


def _walk(mm, pfn, node=0):
    return sorted((m.pid, m.address, m.kind) for m in mm.rmap.rmap_walk(pfn, node).mappings)


def test_a_private_write_is_copy_on_write_after_fork(mm, file):
    parent = mm.spawn("parent")
    v = parent.mmap(file, 2 * PAGE_SIZE, prot="rw", shared=False)
    assert parent.write_memory(v.start, b"parent's").written == 8
    anon = parent.fault(v.start)
    pfn, node = anon.pfn, anon.folio_node
    child = parent.fork()
    fr = child.fork_result
    assert fr.pid == child.pid != parent.pid and fr.vmas == 1 and fr.cow_pages == 1
    assert child.maps() == parent.maps()
    m = mm.rmap.folio_mapcount(pfn, node)
    assert m.folio_mapcount == 2 and m.refcount == 2 and m.per_process == {parent.pid: 1, child.pid: 1}
    assert _walk(mm, pfn, node) == sorted([(parent.pid, v.start, "anon"), (child.pid, v.start, "anon")])
    assert child.read(v.start, 8) == b"parent's"
    assert child.status().rss_anon == 1
    assert mm.check().ok

    # the child writes: wp_page_copy gives it its own page; the parent still sees its data
    assert child.write_memory(v.start, b"child's!").written == 8
    assert parent.read(v.start, 8) == b"parent's" and child.read(v.start, 8) == b"child's!"
    new = child.fault(v.start)
    assert new.pfn != pfn
    assert _walk(mm, new.pfn, new.folio_node) == [(child.pid, v.start, "anon")]
    m = mm.rmap.folio_mapcount(pfn, node)
    assert m.folio_mapcount == 1 and m.refcount == 1

    # the parent's page is mapped once again: its write fault reuses it in place (no copy)
    assert parent.write_memory(v.start, b"again").written == 5
    assert parent.fault(v.start).pfn == pfn
    assert parent.read(v.start, 8) == b"againt's"
    assert mm.check().ok
    child.exit()
    parent.exit()


def test_shared_file_pages_are_refaulted_by_the_child_and_counted_once_per_pte(mm, file):
    parent = mm.spawn("parent")
    v = parent.mmap(file, PAGE_SIZE, prot="rw", shared=True)
    pfn = parent.fault(v.start).pfn
    child = parent.fork()
    assert child.fork_result.ptes_copied == 0     # vma_needs_copy: no anon_vma, the child refaults
    assert mm.rmap.folio_mapcount(pfn).folio_mapcount == 1
    assert child.fault(v.start).pfn == pfn
    assert mm.rmap.folio_mapcount(pfn).folio_mapcount == 2
    assert _walk(mm, pfn) == sorted([(parent.pid, v.start, "file"), (child.pid, v.start, "file")])
    child.write_memory(v.start, b"shared")
    assert parent.read(v.start, 6) == b"shared"
    assert mm.check().ok
    parent.exit()
    assert mm.rmap.folio_mapcount(pfn).folio_mapcount == 1
    child.exit()


def test_file_ptes_of_a_private_vma_with_anon_pages_are_copied(mm, file):
    parent = mm.spawn("parent")
    v = parent.mmap(file, 2 * PAGE_SIZE, prot="rw", shared=False)
    file_pfn = parent.fault(v.start + PAGE_SIZE).pfn        # read: the page-cache page, read-only
    parent.write_memory(v.start, b"x")                       # an anonymous page: the VMA has an anon_vma
    before = mm.rmap.folio_mapcount(file_pfn)
    child = parent.fork()
    assert child.fork_result.ptes_copied == 2
    after = mm.rmap.folio_mapcount(file_pfn)
    assert after.page_mapcount_raw == before.page_mapcount_raw + 1 and after.refcount == before.refcount + 1
    assert child.fault(v.start + PAGE_SIZE).spurious
    assert mm.check().ok
    parent.exit()
    child.exit()


def test_an_exited_parent_leaves_the_child_its_cow_pages(mm, file):
    parent = mm.spawn("parent")
    v = parent.mmap(file, PAGE_SIZE, prot="rw", shared=False)
    parent.write_memory(v.start, b"mine")
    pfn = parent.fault(v.start).pfn
    child = parent.fork()
    grandchild = child.fork()
    assert mm.rmap.folio_mapcount(pfn).folio_mapcount == 3
    assert parent.exit().folios_freed == 0
    assert _walk(mm, pfn) == sorted([(child.pid, v.start, "anon"), (grandchild.pid, v.start, "anon")])
    grandchild.exit()
    assert child.write_memory(v.start, b"reuse").written == 5
    assert child.fault(v.start).pfn == pfn                  # mapped once again: reused
    assert child.exit().folios_freed == 1
    assert mm.check().ok


def test_fork_copies_mapmany_runs(mm, file):
    parent = mm.spawn("runs")
    v = parent.mmap(file, PAGE_SIZE)
    pfn = parent.fault(v.start).pfn
    parent.map_many(file, 0, 100)
    raw = mm.rmap.folio_mapcount(pfn).page_mapcount_raw
    child = parent.fork()
    assert child.fork_result.vmas == 2
    assert child.status().map_count == parent.status().map_count == 101
    assert mm.rmap.folio_mapcount(pfn).page_mapcount_raw == raw + 100
    assert child.pid in {m.pid for m in mm.rmap.rmap_walk(pfn).mappings if m.kind == "run"}
    assert mm.check().ok
    child.exit()
    assert mm.rmap.folio_mapcount(pfn).page_mapcount_raw == raw
    parent.exit()


def test_fork_refuses_bad_input_and_changes_nothing(mm):
    with pytest.raises(errors.NotFound, match="no process with pid 4000001"):
        Process(mm, 4_000_001, "x").fork()
    with pytest.raises(errors.InvalidArgument, match="pid must be positive"):
        Process(mm, 0, "x").fork()
    bulk = mm.spawn("bulk", count=3)
    with pytest.raises(errors.FailedPrecondition, match="bulk Spawn of 3"):
        bulk.fork()
    nxt = mm.spawn("next")
    assert nxt.pid == bulk.pid + 3                 # the refused forks took no pid
    bulk.exit()
    nxt.exit()


def test_munmap_splits_a_mapmany_run_and_maps_lists_it(mm, file):
    p = mm.spawn("runs")
    v = p.mmap(file, PAGE_SIZE)
    pfn = p.fault(v.start).pfn
    r = p.map_many(file, 0, 10)
    raw = mm.rmap.folio_mapcount(pfn).page_mapcount_raw
    maps = p.maps()
    assert len(maps) == 4 and [line.startswith("... 8 more one-page VMAs") for line in maps].count(True) == 1
    first = maps.index(next(line for line in maps if line.startswith("...")))
    assert maps[first - 1].startswith(f"{r.address:08x}-{r.address + PAGE_SIZE:08x} r--s 00000000")
    assert maps[first + 1].startswith(f"{r.address + 9 * PAGE_SIZE:08x}-")
    # unmap VMAs 3..5 of the run: two runs of 3 and 4 are left
    assert p.munmap(r.address + 3 * PAGE_SIZE, 3 * PAGE_SIZE) == 3
    assert mm.rmap.folio_mapcount(pfn).page_mapcount_raw == raw - 3
    assert p.status().map_count == 1 + 7
    runs = sorted((m.address, m.vmas) for m in mm.rmap.rmap_walk(pfn).mappings if m.kind == "run")
    assert runs == [(r.address, 3), (r.address + 6 * PAGE_SIZE, 4)]
    assert sum(line.startswith("...") for line in p.maps()) == 2
    assert mm.check().ok
    # MAP_FIXED over what is left of the first piece replaces it
    p.mmap(file, PAGE_SIZE, offset=PAGE_SIZE, addr=r.address + PAGE_SIZE, fixed="fixed")
    assert mm.rmap.folio_mapcount(pfn).page_mapcount_raw == raw - 4
    assert mm.check().ok
    p.munmap(r.address, 10 * PAGE_SIZE)
    assert mm.rmap.folio_mapcount(pfn).page_mapcount_raw == raw - 10
    assert p.status().map_count == 1
    assert mm.check().ok
    p.exit()


def test_cow_faults_after_fork_cost_what_the_table_says(mm, file):
    """wp_page_copy: HandleFault + PageAllocator.AllocPages (2 hops), FAULT_BEGIN + FINISH_FAULT + the allocator's
    one (3 round trips); wp_page_reuse: HandleFault alone, FAULT_BEGIN alone (1 hop, 1 round trip)."""
    parent = mm.spawn("counts")
    v = parent.mmap(file, PAGE_SIZE, prot="rw", shared=False)
    parent.write_memory(v.start, b"p")
    child = parent.fork()
    copy = child.fault(v.start, write=True)
    tree = mm.trace(copy.trace_id, timeout=120)
    assert tree.complete and (tree.hops, tree.redis_round_trips) == (2, 3), tree.render()
    reuse = parent.fault(v.start, write=True)
    tree = mm.trace(reuse.trace_id, timeout=120)
    assert tree.complete and (tree.hops, tree.redis_round_trips) == (1, 1), tree.render()
    assert reuse.pages_mapped == 1 and not reuse.spurious
    child.exit()
    parent.exit()
