"""Truncation splits large folios as the kernel does (mm/truncate.c truncate_inode_partial_folio,
mm/huge_memory.c __folio_split), over the real stack: the XArray, the struct pages, every PTE and the
counters move together, and a refused split unmaps the folio so the mapping, read() and WriteMemory agree.
"""

from __future__ import annotations

import secrets

import pytest

from mmsim.client import PAGE_SIZE, Cluster
from mmsim.v1 import filesystem_pb2, page_allocator_pb2, page_cache_pb2, reverse_map_pb2

PAGE = PAGE_SIZE


@pytest.fixture()
def mm(stack_settings):
    """A client on a stack whose memory is not held fragmented (a fragmentation test that failed or timed out
    earlier in the session may have left its pinned pages): these tests need large blocks."""
    with Cluster.connect(stack_settings) as c:
        c.call("allocator", "Unfragment", page_allocator_pb2.UnfragmentRequest(node=0))
        yield c


def _fs(mm, block_size, profile):
    return mm.mkfs("s" + secrets.token_hex(4), block_size=block_size, profile=profile)


def _find(mm, f, index):
    """(head pfn, order, first index) of the folio covering index, 'zero' for a zero entry, None if nothing."""
    r = mm.call("pagecache", "FindFolio", page_cache_pb2.FindFolioRequest(mapping=f.mapping, index=index))
    if not r.found:
        return None
    return "zero" if r.zero_entry else (r.folio.pfn, r.folio.order, r.folio_index)


def _xa(mm, f):
    return mm.call("pagecache", "XaStats", page_cache_pb2.XaStatsRequest(mapping=f.mapping))


def _punch(mm, f, offset, length):
    return mm.call("filesystem", "PunchHole", filesystem_pb2.PunchHoleRequest(mapping=f.mapping, offset=offset, length=length))


def _write_mem(mm, proc, address, data):
    return mm.call("rmap", "WriteMemory", reverse_map_pb2.WriteMemoryRequest(pid=proc.pid, address=address, data=data))


def _size_stats(mm, size_kb):
    stats = mm.thp_stats()
    return next(s for s in stats.sizes if s.size_kb == size_kb), dict(stats.vmstat)


def _mapped_file(mm, block_size, profile, size, write_whole=True):
    """A file of `size` bytes written in one call (one large folio per aligned run), fsynced (clean) and
    mapped shared read-write by a new process; every page read-faulted when write_whole."""
    f = _fs(mm, block_size, profile).create("/f")
    data = bytes((i * 7 + i // PAGE) % 251 for i in range(size))
    f.write(0, data)
    f.fsync()
    proc = mm.spawn("splitter")
    vma = proc.mmap(f, size, prot="rw", shared=True)
    if write_whole:
        for p in range(size // PAGE):
            assert proc.fault(vma.start + p * PAGE).ok
    return f, proc, vma, data


# folio_split at page 5 then at page 7 (the page after the hole) vs split_folio to order 0, min order 0
EXPECTED = {
    "lsfmm2018": [(p, 0) for p in range(16) if p != 6],
    "linux-7.3": [(0, 2), (4, 0), (5, 0), (7, 0), (8, 3)],
}


@pytest.mark.parametrize("profile", sorted(EXPECTED))
def test_an_order4_folio_punched_in_the_middle_ends_as_the_kernels_split_leaves_it(mm, profile):
    f, proc, vma, data = _mapped_file(mm, 4096, profile, 16 * PAGE)
    head, order, first = _find(mm, f, 0)
    assert (order, first) == (4, 0)
    before, vm_before = _size_stats(mm, 64)
    entries_before = _xa(mm, f).folio_entries
    resp = _punch(mm, f, 5 * PAGE + 100, 2 * PAGE)           # bytes 20580 .. 28771: pages 5 (part), 6, 7 (part)
    assert resp.folios_split >= 1
    want = EXPECTED[profile]
    got = sorted({_find(mm, f, p) for p in range(16)} - {None})
    assert got == sorted((head + off, o, off) for off, o in want)
    assert _find(mm, f, 6) is None                            # the whole page inside the hole went
    xa = _xa(mm, f)
    assert xa.folio_entries == entries_before - 1 + len(want) and xa.nrpages == 15 and xa.nodes == 1
    expected = bytearray(data)
    expected[5 * PAGE + 100:7 * PAGE + 100] = bytes(2 * PAGE)
    assert f.read(0, 16 * PAGE) == bytes(expected)
    # every PTE outside the hole survived the split and names the new folio that holds its page
    for p in (q for q in range(16) if q != 6):
        r = proc.fault(vma.start + p * PAGE)
        pfn, o, off = _find(mm, f, p)
        assert r.spurious and (r.pfn, r.folio_pfn, r.folio_order) == (head + p, pfn, o), (p, r)
    for off, o in want:
        mc = mm.call("rmap", "FolioMapcount", reverse_map_pb2.FolioMapcountRequest(pfn=head + off, node=0))
        assert (mc.folio.pfn, mc.folio.order) == (head + off, o)
        assert mc.folio_mapcount == 1 << o and mc.refcount == 1 + (1 << o)   # the page cache + one per PTE
    assert proc.read(vma.start, 6 * PAGE) == bytes(expected[:6 * PAGE])
    after, vm_after = _size_stats(mm, 64)
    assert after.split - before.split == 1 and after.split_failed == before.split_failed
    assert vm_after["thp_split_page"] == vm_before["thp_split_page"]  # counted for PMD-sized folios only


def test_a_split_2mib_folio_keeps_its_ptes_and_grows_the_xarray_by_the_kernels_nodes(mm):
    """split_folio of an order-9 folio to order 0: xas_split gives the order-9 entry (8 slots of a level-1
    node) 8 new level-0 nodes; thp_split_page and the 2048kB split counter move; the PTEs follow."""
    size = 512 * PAGE
    f, proc, vma, data = _mapped_file(mm, 4096, "lsfmm2018", size, write_whole=False)
    head, order, _ = _find(mm, f, 0)
    assert order == 9
    for p in (3, 300, 511):
        assert proc.fault(vma.start + p * PAGE).ok
    nodes = _xa(mm, f).nodes
    before, vm_before = _size_stats(mm, 2048)
    resp = f.truncate(511 * PAGE + 1)
    assert resp.folios_split == 1 and resp.folios_removed == 0
    assert _xa(mm, f).nodes == nodes + 8 and _xa(mm, f).folio_entries == 512
    for p in (3, 300, 511):
        r = proc.fault(vma.start + p * PAGE)
        assert r.spurious and (r.folio_pfn, r.folio_order) == (head + p, 0)
    assert proc.read(vma.start + 300 * PAGE, PAGE) == data[300 * PAGE:301 * PAGE]
    after, vm_after = _size_stats(mm, 2048)
    assert after.split - before.split == 1
    assert vm_after["thp_split_page"] - vm_before["thp_split_page"] == 1
    assert mm.vmstat()["thp_split_page"] == vm_after["thp_split_page"]


def _repro1(mm, profile, op):
    """Issue 9, reproduction 1: 16 KiB blocks, write 64 KiB, fsync, DONTNEED, mmap shared rw, read-fault
    page 5 (an order-2 folio, pages 4..7), then Truncate(31951) or PunchHole(18000, 4000)."""
    f = _fs(mm, 16384, profile).create("/r1")
    data = bytes((i * 13 + 1) % 256 for i in range(64 << 10))
    f.write(0, data)
    f.fsync()
    f.fadvise_dontneed()
    proc = mm.spawn("repro1")
    vma = proc.mmap(f, 64 << 10, prot="rw", shared=True)
    assert proc.fault(vma.start + 5 * PAGE).ok
    head, order, first = _find(mm, f, 5)
    assert (order, first) == (2, 4)
    if op == "truncate":
        resp = f.truncate(31951)
    else:
        resp = _punch(mm, f, 18000, 4000)
    return f, proc, vma, head, resp


@pytest.mark.parametrize("op", ["truncate", "punch"])
def test_repro1_a_refused_split_unmaps_the_folio_and_the_next_access_refaults(mm, op):
    """linux-6.12: the minimum folio order is the block's (2), so the order-2 folio cannot be split: it is
    unmapped whole (folio_split_or_unmap) and, clean, dropped; page 5 refaults and every view agrees."""
    before, _ = _size_stats(mm, 16)
    f, proc, vma, head, resp = _repro1(mm, "linux-6.12", op)
    assert resp.folios_split == 0 and resp.folios_removed >= 1
    after, _ = _size_stats(mm, 16)
    assert after.split_failed - before.split_failed == 1 and after.split == before.split
    refault = proc.fault(vma.start + 5 * PAGE)
    assert refault.ok and not refault.spurious         # the old PTE is gone: the access refaulted
    assert refault.major                               # through the page cache (the folio was dropped)
    assert proc.read(vma.start + 5 * PAGE, PAGE) == f.read(5 * PAGE, PAGE)
    _agree_after_writes(mm, f, proc, vma)


@pytest.mark.parametrize("op", ["truncate", "punch"])
def test_repro1_with_order0_allowed_the_split_keeps_page_5_mapped_on_its_own_folio(mm, op):
    """lsfmm2018 (fallback to order 0): the folio is split to order 0; page 5's PTE stays and now names the
    order-0 folio at head + 1."""
    f, proc, vma, head, resp = _repro1(mm, "lsfmm2018", op)
    assert resp.folios_split == 1
    r = proc.fault(vma.start + 5 * PAGE)
    assert r.spurious and (r.folio_pfn, r.folio_order) == (head + 1, 0)
    assert proc.read(vma.start + 5 * PAGE, PAGE) == f.read(5 * PAGE, PAGE)
    _agree_after_writes(mm, f, proc, vma)


def _agree_after_writes(mm, f, proc, vma):
    """A write() at page 5 shows through the mapping; a store through the mapping shows in read()."""
    f.write(5 * PAGE + 8, b"written by write(2)")
    assert proc.fault(vma.start + 5 * PAGE).ok
    assert proc.read(vma.start + 5 * PAGE, PAGE) == f.read(5 * PAGE, PAGE)
    assert proc.fault(vma.start + 5 * PAGE, write=True).ok
    _write_mem(mm, proc, vma.start + 5 * PAGE + 64, b"stored through the mapping")
    assert f.read(5 * PAGE + 64, 26) == b"stored through the mapping"
    assert proc.read(vma.start + 5 * PAGE, PAGE) == f.read(5 * PAGE, PAGE)


def _zero_entries_up_to(mm, f, proc, vma, last):
    """Read-fault pages 0..last of a hole in order: readahead ramps the zero entries' order up (0, 0, 1, 2,
    3 ...); returns the entry covering `last` as (first, order) from the XArray."""
    for p in range(last + 1):
        assert proc.fault(vma.start + p * PAGE).ok
    assert _find(mm, f, last) == "zero"
    return _xa(mm, f).zero_pages


def test_repro4_a_zero_entry_straddling_the_new_eof_is_trimmed(mm):
    """Issue 9, reproduction 4 (zero entries on): the order-3 zero entry over pages 8..15 straddles the new
    EOF at page 11; it is trimmed to pages 8..10, nothing lies past EOF."""
    f = _fs(mm, 4096, "lsfmm2018").create("/z")
    f.write(64 * PAGE, b"end")
    proc = mm.spawn("zero")
    vma = proc.mmap(f, 65 * PAGE, prot="r", shared=True)
    assert _zero_entries_up_to(mm, f, proc, vma, 15) == 16
    f.truncate(10 * PAGE + 5)
    assert [_find(mm, f, p) for p in range(8, 16)] == ["zero"] * 3 + [None] * 5
    assert _xa(mm, f).zero_pages == 11
    r = proc.fault(vma.start + 12 * PAGE)
    assert "SIGBUS" in str(r.vm_fault)
    assert proc.read(vma.start + 9 * PAGE, PAGE) == bytes(PAGE) == f.read(9 * PAGE, PAGE)


def test_repro4_reflink_onto_a_range_cutting_a_zero_entry_leaves_no_zero_entry_over_cloned_bytes(mm):
    """Reflink onto pages 12..15 of a file whose order-3 zero entry covers pages 8..15: the entry is split at
    the edge (pages 8..11 stay holes), a fault in the cloned range maps the cloned bytes, as read() shows."""
    fs = _fs(mm, 4096, "lsfmm2018")
    src, dst = fs.create("/src"), fs.create("/dst")
    src.write(0, b"\x77" * (4 * PAGE))
    dst.write(64 * PAGE, b"end")
    proc = mm.spawn("reflinker")
    vma = proc.mmap(dst, 65 * PAGE, prot="r", shared=True)
    _zero_entries_up_to(mm, dst, proc, vma, 15)
    src.reflink(dst, 0, 12 * PAGE, 4 * PAGE)
    assert [_find(mm, dst, p) for p in range(8, 12)] == ["zero"] * 4
    assert all(_find(mm, dst, p) != "zero" for p in range(12, 16))
    assert dst.read(13 * PAGE, PAGE) == b"\x77" * PAGE
    r = proc.fault(vma.start + 13 * PAGE)
    assert r.ok and not r.spurious
    assert proc.read(vma.start + 12 * PAGE, 4 * PAGE) == b"\x77" * (4 * PAGE)
    assert proc.read(vma.start + 8 * PAGE, PAGE) == bytes(PAGE)


def test_reflink_onto_the_middle_of_a_mapped_large_folio_splits_it_at_both_edges(mm):
    """The destination's order-4 folio straddles both edges of a 4-page reflink at page 4: it is split (the
    pages outside keep their PTEs), the cloned pages are dropped and refault with the source's bytes."""
    fs = _fs(mm, 4096, "lsfmm2018")
    src, dst = fs.create("/s"), fs.create("/d")
    src.write(0, b"\x42" * (4 * PAGE))
    dst.write(0, b"\x11" * (16 * PAGE))
    dst.fsync()
    proc = mm.spawn("edges")
    vma = proc.mmap(dst, 16 * PAGE, prot="r", shared=True)
    for p in range(16):
        proc.fault(vma.start + p * PAGE)
    head, order, _ = _find(mm, dst, 0)
    assert order == 4
    src.reflink(dst, 0, 4 * PAGE, 4 * PAGE)
    for p in (0, 3, 8, 15):
        r = proc.fault(vma.start + p * PAGE)
        assert r.spurious and r.folio_pfn == head + p and r.folio_order == 0
    r = proc.fault(vma.start + 5 * PAGE)
    assert r.ok and not r.spurious
    assert proc.read(vma.start, 16 * PAGE) == dst.read(0, 16 * PAGE) == b"\x11" * (4 * PAGE) + b"\x42" * (4 * PAGE) + b"\x11" * (8 * PAGE)


def _truncate_cost(mm, pages):
    f, proc, vma, _ = _mapped_file(mm, 4096, "lsfmm2018", pages * PAGE, write_whole=False)
    for p in (1, pages // 2, pages - 1):
        assert proc.fault(vma.start + p * PAGE).ok
    resp = f.truncate(pages * PAGE // 2 + 100)
    assert resp.folios_split == 1 and resp.folios_removed == pages // 2 - 1
    tree = mm.trace(mm.last_trace_id)
    span = tree.find("PageCacheService/TruncateRange")[0]       # the split is visible in the page cache's span
    order = (pages - 1).bit_length()
    assert span.attributes["out.folios_split"] == "1" and f"order {order} -> " in span.attributes["out.split_log"]
    print(f"truncate of a mapped order-{(pages - 1).bit_length()} folio: {tree.hops} gRPC hops, "
          f"{tree.redis_round_trips} Redis round trips\n{tree.render()}")
    return tree.hops, tree.redis_round_trips, sorted(tree.methods())


def test_truncating_a_mapped_large_folio_costs_the_same_hops_and_round_trips_whatever_its_order(mm):
    """Truncating a mapped folio in its middle (split, the half past EOF freed): the same gRPC hops and Redis
    round trips for an order-4 and an order-9 (2 MiB) folio -- the split and the frees are batched."""
    _truncate_cost(mm, 16)   # the first run loads the scripts into Redis (EVALSHA's NOSCRIPT retry)
    assert _truncate_cost(mm, 16) == _truncate_cost(mm, 512)


@pytest.mark.parametrize("profile", ["lsfmm2018", "linux-7.3"])
def test_after_splits_unmap_and_unlink_every_page_is_back_in_the_buddy_lists(mm, profile):
    """Nothing lost: the split folios' references, owner records and struct pages let every one of them go
    back to the allocator once the process exits and the file is unlinked."""
    free_before = mm.vmstat()["nr_free_pages"]
    f, proc, vma, data = _mapped_file(mm, 4096, profile, 512 * PAGE, write_whole=False)
    for p in (0, 100, 300, 511):
        assert proc.fault(vma.start + p * PAGE).ok
    _punch(mm, f, 100 * PAGE + 10, 50 * PAGE)
    f.truncate(400 * PAGE + 123)
    assert proc.read(vma.start + 300 * PAGE, PAGE) == data[300 * PAGE:301 * PAGE]
    mm.call("rmap", "Exit", reverse_map_pb2.ExitRequest(pid=proc.pid))
    mm.call("filesystem", "Unlink", filesystem_pb2.UnlinkRequest(fs=f.fs.name, path=f.path))
    assert mm.vmstat()["nr_free_pages"] == free_before
