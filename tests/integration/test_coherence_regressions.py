"""Issue 9's six reproductions, kept as named regression tests (plain client calls on the real stack).

Each asserts what a user relies on: a mapping, read() and WriteMemory agree after truncate and hole punch
inside a mapped large folio; a store through a shared mapping after an fsync is written by the next fsync;
an unlinked file's folios and blocks go at its last munmap or exit; a zero entry never outlives its range;
every racing fault whose address is mapped says what is mapped; per-size large-folio counters are readable.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from coherence import cache_entries, mapped_file_ptes
from mmsim.client import PAGE_SIZE, Cluster
from mmsim.v1 import filesystem_pb2, reverse_map_pb2

PATTERN = bytes(range(256)) * (64 * 1024 // 256)   # 64 KiB, every byte telling its offset


@pytest.fixture()
def mm(stack_settings):
    with Cluster.connect(stack_settings) as cluster:
        yield cluster


def _fs(mm: Cluster, block_size: int, profile: str):
    return mm.mkfs("r" + secrets.token_hex(5), block_size=block_size, profile=profile)


def _cold_file(mm: Cluster, block_size: int, profile: str, path: str):
    """A new filesystem with a 64 KiB file written back and dropped from the page cache: (fs, file)."""
    fs = _fs(mm, block_size, profile)
    f = fs.create(path)
    f.write(0, PATTERN)
    f.fsync()
    f.fadvise_dontneed()
    return fs, f


def _write_memory(mm: Cluster, pid: int, address: int, data: bytes):
    return mm.call("rmap", "WriteMemory", reverse_map_pb2.WriteMemoryRequest(pid=pid, address=address, data=data))


def _rss(mm: Cluster, pid: int):
    return mm.call("rmap", "ProcStatus", reverse_map_pb2.ProcStatusRequest(pid=pid))


def _exit(mm: Cluster, pid: int):
    return mm.call("rmap", "Exit", reverse_map_pb2.ExitRequest(pid=pid))


def _unlink(mm: Cluster, fs, path: str):
    return mm.call("filesystem", "Unlink", filesystem_pb2.UnlinkRequest(fs=fs.name, path=path))


def _assert_ptes_map_cached_folios(mm: Cluster, pid: int, mapping: str) -> None:
    folios = [e for e in cache_entries(mm, [mapping])[mapping] if not e.zero]
    assert _rss(mm, pid).rss_file == mapped_file_ptes(mm, folios), "a PTE maps a folio that left the page cache"


# -------------------------------------------------------------------------------------------------- item 1
CUTS = {
    "truncate": lambda mm, f: f.truncate(31951),
    "punch": lambda mm, f: mm.call("filesystem", "PunchHole",
                                   filesystem_pb2.PunchHoleRequest(mapping=f.mapping, offset=18000, length=4000)),
}


@pytest.mark.parametrize("profile", ["lsfmm2018", "linux-6.12"])
@pytest.mark.parametrize("cut", sorted(CUTS))
def test_truncate_or_punch_in_a_mapped_large_folio_keeps_mapping_and_file_in_agreement(mm, cut, profile):
    free_before = mm.vmstat()["nr_free_pages"]
    fs, f = _cold_file(mm, 16384, profile, "/a")
    proc = mm.spawn("item1")
    vma = proc.mmap(f, len(PATTERN), prot="rw", shared=True)
    page5 = vma.start + 5 * PAGE_SIZE
    r = proc.fault(page5)
    assert r.ok and r.folio_order == 2                      # pages 4..7, one 16 KiB block
    CUTS[cut](mm, f)
    expect = f.read(4 * PAGE_SIZE, 4 * PAGE_SIZE)
    assert proc.read(vma.start + 4 * PAGE_SIZE, len(expect)) == expect   # the cut range reads zeros in both
    _assert_ptes_map_cached_folios(mm, proc.pid, f.mapping)

    f.write(5 * PAGE_SIZE, b"NEW!")                         # write(2) lands where the mapping looks
    assert f.read(5 * PAGE_SIZE, 4) == b"NEW!"
    assert proc.read(page5, 4) == b"NEW!"
    w = _write_memory(mm, proc.pid, page5 + 4, b"MAPPED")   # and a store through the mapping reaches the file
    assert w.written == 6 and not w.vm_fault
    assert f.read(5 * PAGE_SIZE, 10) == b"NEW!MAPPED"
    _exit(mm, proc.pid)
    _unlink(mm, fs, "/a")
    assert mm.vmstat()["nr_free_pages"] == free_before


# -------------------------------------------------------------------------------------------------- item 2
@pytest.mark.parametrize("profile", ["lsfmm2018", "linux-6.12"])
def test_a_store_through_a_shared_mapping_after_fsync_is_written_by_the_next_fsync(mm, profile):
    fs = _fs(mm, 4096, profile)
    f = fs.create("/a")
    f.write(0, b"x" * 8192)
    f.fsync()
    proc = mm.spawn("item2")
    vma = proc.mmap(f, 8192, prot="rw", shared=True)
    assert _write_memory(mm, proc.pid, vma.start, b"AAAA").written == 4
    assert f.fsync().folios_written >= 1
    assert _write_memory(mm, proc.pid, vma.start, b"BBBB").written == 4
    assert f.read(0, 4) == b"BBBB"                           # read() sees the store at once
    assert f.fsync().folios_written >= 1                     # folio_mkclean write-protected it: dirtied again
    assert proc.read(vma.start, 4) == b"BBBB"
    proc.munmap(vma.start, vma.length)
    f.fadvise_dontneed()
    assert f.read(0, 4) == b"BBBB"                           # survives, from the blocks alone
    _exit(mm, proc.pid)


# -------------------------------------------------------------------------------------------------- item 3
@pytest.mark.parametrize("last", ["munmap", "exit"])
def test_an_unlinked_mapped_file_is_freed_at_its_last_unmap(mm, last):
    free_before = mm.vmstat()["nr_free_pages"]
    fs = _fs(mm, 4096, "lsfmm2018")
    f = fs.create("/orphan")
    f.write(0, PATTERN)
    procs = [mm.spawn(f"item3-{i}") for i in range(2)]
    vmas = [p.mmap(f, len(PATTERN), prot="rw", shared=True) for p in procs]
    for p, v in zip(procs, vmas):
        assert p.read(v.start, len(PATTERN)) == PATTERN
    assert _unlink(mm, fs, "/orphan").orphaned
    # still usable through its mappings: a store by one process is seen by the other
    assert _write_memory(mm, procs[0].pid, vmas[0].start, b"still here").written == 10
    assert procs[1].read(vmas[1].start, 10) == b"still here"
    assert f.stat().nlink == 0
    procs[0].munmap(vmas[0].start, vmas[0].length)
    assert procs[1].read(vmas[1].start + 100, 4) == PATTERN[100:104]   # one mapping left: alive
    if last == "munmap":
        procs[1].munmap(vmas[1].start, vmas[1].length)
    else:
        _exit(mm, procs[1].pid)
    with pytest.raises(grpc.RpcError) as err:                # iput_final -> evict: the inode is gone
        f.stat()
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    for p in procs:
        if last == "munmap" or p is procs[0]:
            _exit(mm, p.pid)
    assert mm.vmstat()["nr_free_pages"] == free_before        # every folio went back to the buddy lists


# -------------------------------------------------------------------------------------------------- item 4
def _zero_entry_16_31(mm: Cluster, fs, path: str):
    """A 256 KiB hole with 16 KiB blocks, read-faulted sequentially: an order-4 zero entry at pages 16..31."""
    f = fs.create(path)
    f.truncate(64 * PAGE_SIZE)
    proc = mm.spawn("item4")
    vma = proc.mmap(f, 64 * PAGE_SIZE, prot="r")
    for idx in (0, 4, 8, 16):
        assert proc.fault(vma.start + idx * PAGE_SIZE).ok
    zero = [e for e in cache_entries(mm, [f.mapping])[f.mapping] if e.zero and e.first == 16]
    assert zero and zero[0].last == 31, cache_entries(mm, [f.mapping])
    return f, proc, vma


def test_a_zero_entry_straddling_the_new_eof_goes_with_truncate(mm):
    fs = _fs(mm, 16384, "lsfmm2018")
    f, proc, vma = _zero_entry_16_31(mm, fs, "/hole")
    f.truncate(22 * PAGE_SIZE + 100)                          # EOF inside the zero entry, in the block 20..23
    entries = cache_entries(mm, [f.mapping])[f.mapping]
    assert all(e.last < 24 for e in entries), f"entries past EOF: {[e for e in entries if e.last >= 24]}"
    f.write(28 * PAGE_SIZE, b"after")                         # grow again: the old hole's pages hold data now
    assert proc.read(vma.start + 28 * PAGE_SIZE, 5) == b"after" == f.read(28 * PAGE_SIZE, 5)
    _exit(mm, proc.pid)


def test_reflink_onto_part_of_a_zero_entry_maps_the_cloned_bytes(mm):
    fs = _fs(mm, 16384, "lsfmm2018")
    dst, proc, vma = _zero_entry_16_31(mm, fs, "/dst")
    src = fs.create("/src")
    src.write(0, b"S" * (8 * PAGE_SIZE))
    src.reflink(dst, 0, 16 * PAGE_SIZE, 8 * PAGE_SIZE)        # pages 16..23: the range's end cuts the zero entry
    assert dst.read(16 * PAGE_SIZE, 8 * PAGE_SIZE) == b"S" * (8 * PAGE_SIZE)
    assert proc.read(vma.start + 16 * PAGE_SIZE, 16 * PAGE_SIZE) == dst.read(16 * PAGE_SIZE, 16 * PAGE_SIZE)
    for e in cache_entries(mm, [dst.mapping])[dst.mapping]:
        assert not (e.zero and e.first <= 23 and e.last >= 16), f"a zero entry over cloned data: {e}"
    _exit(mm, proc.pid)


# -------------------------------------------------------------------------------------------------- item 5
def test_every_racing_fault_that_ends_mapped_reports_the_mapped_page(mm):
    _, f = _cold_file(mm, 16384, "lsfmm2018", "/race")
    proc = mm.spawn("item5")
    vma = proc.mmap(f, len(PATTERN), prot="r")
    req = reverse_map_pb2.HandleFaultRequest(pid=proc.pid, address=vma.start + 5 * PAGE_SIZE)
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda _: mm.call("rmap", "HandleFault", req), range(16)))
    mapped = mm.call("rmap", "HandleFault", req)
    assert mapped.spurious and mapped.pfn != 0
    for r in replies:
        assert (r.pfn, r.folio.pfn, r.folio.order) == (mapped.pfn, mapped.folio.pfn, mapped.folio.order), r
    _exit(mm, proc.pid)


# -------------------------------------------------------------------------------------------------- item 6
def _thp(mm) -> dict[int, dict[str, int]]:
    """Cluster.thp_stats() as {size_kB: {file_alloc, file_fallback, split, split_failed, ...}}."""
    return {size: c.to_dict() for size, c in mm.thp_stats().per_size.items()}


def test_per_size_large_folio_counters_are_readable_over_grpc(mm):
    """Cluster.thp_stats(): {size_kB: {file_alloc, file_fallback, split, split_failed}}, the layout of
    /sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/stats."""
    before = _thp(mm)
    _, f = _cold_file(mm, 4096, "lsfmm2018", "/thp")
    proc = mm.spawn("item6")
    vma = proc.mmap(f, len(PATTERN), prot="r")
    assert proc.read(vma.start, len(PATTERN)) == PATTERN      # readahead ramps the folio order up
    large = [e for e in cache_entries(mm, [f.mapping])[f.mapping] if e.order > 0]
    assert large, "no large folio was built"
    after = _thp(mm)
    for size in {(PAGE_SIZE << e.order) >> 10 for e in large}:
        n = sum(1 for e in large if (PAGE_SIZE << e.order) >> 10 == size)
        assert set(after[size]) >= {"file_alloc", "file_fallback", "split", "split_failed"}
        assert after[size]["file_alloc"] - before.get(size, {}).get("file_alloc", 0) >= n, (size, before, after)
    biggest = max(large, key=lambda e: e.order)
    cut = biggest.first + 1                                   # EOF one page into the biggest folio
    r = f.truncate(cut * PAGE_SIZE + 100)
    assert r.folios_split >= 1
    size = (PAGE_SIZE << biggest.order) >> 10
    split = _thp(mm)[size]
    assert split["split"] - after[size]["split"] >= 1
    assert split["split_failed"] == after[size]["split_failed"]
    _exit(mm, proc.pid)


# ------------------------------------------------------------------------------- found by the bytes model
def test_reflink_keeps_the_private_copies_of_a_destination_mapping(mm):
    """xfs_reflink_remap_prep -> truncate_pagecache_range: unmap_mapping_range(..., even_cows=0), as a hole
    punch: a MAP_PRIVATE mapping's copied pages are the process's own memory and survive."""
    fs = _fs(mm, 4096, "linux-6.12")
    a, b = fs.create("/a"), fs.create("/b")
    a.write(0, b"A" * 16384)
    b.write(0, b"B" * 16384)
    proc = mm.spawn("cow")
    vma = proc.mmap(b, 16384, prot="rw", shared=False)
    assert _write_memory(mm, proc.pid, vma.start, b"PRIVATE").written == 7
    a.reflink(b, 0, 0, 8192)
    assert b.read(0, 8) == b"AAAAAAAA"
    assert proc.read(vma.start, 8) == b"PRIVATEB"           # the copy on write is kept
    assert proc.read(vma.start + 4096, 4) == b"AAAA"         # the untouched page shows the clone
    assert _rss(mm, proc.pid).rss_anon == 1
    _exit(mm, proc.pid)


@pytest.mark.parametrize("shared", [False, True], ids=["private", "shared"])
def test_a_write_fault_on_a_hole_mapped_to_the_zero_page_maps_a_writable_page(mm, shared):
    """do_wp_page on the zero page: a private mapping gets its own copy (wp_page_copy), a shared one the
    file's new folio; either way the reply names the page now mapped and the process's RSS counts it."""
    fs = _fs(mm, 16384, "lsfmm2018")
    f = fs.create("/hole")
    f.write(65535, b"z")                                     # pages 0..14 are a hole: zero entries
    proc = mm.spawn("zerowp")
    vma = proc.mmap(f, 65536, prot="rw", shared=shared)
    assert proc.read(vma.start, 4096) == bytes(4096)          # read fault: the zero page, read-only
    r = proc.fault(vma.start, write=True)
    assert r.ok and r.pfn != 0 and r.pages_mapped >= 1, r
    st = _rss(mm, proc.pid)
    assert (st.rss_file, st.rss_anon) == ((r.pages_mapped + r.pages_mapped_around, 0) if shared else (0, 1)), st
    _exit(mm, proc.pid)
