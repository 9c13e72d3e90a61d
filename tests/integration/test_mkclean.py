"""Dirty tracking through PTEs over the real stack: wp_page_shared / do_page_mkwrite dirty the folio on the
first store after a clean; writeback (folio_clear_dirty_for_io -> folio_mkclean -> page_mkclean_one)
write-protects and cleans every PTE of the folio, in every process, before it writes the bytes."""

from __future__ import annotations

import secrets
import threading

import pytest

from mmsim.v1 import reverse_map_pb2 as rm

PAGE = 4096


def _file(mm, block_size=4096, name="/f"):
    return mm.mkfs("d" + secrets.token_hex(4), block_size=block_size).create(name)


def _pte(mm, proc, address) -> tuple[int, int, int]:
    """(pfn, head pfn, order) the process maps at address: what a fault there reports (spurious, minor)."""
    r = proc.fault(address)
    assert r.ok and r.spurious, r
    return r.pfn, r.folio_pfn, r.folio_order


def test_stores_after_an_fsync_are_written_by_the_next_fsync(mm):
    """Issue 9 reproduction 2: write 8 KiB, fsync, mmap shared rw, store AAAA, fsync, store BBBB, fsync."""
    f = _file(mm)
    f.write(0, b"x" * 2 * PAGE)
    assert f.fsync().folios_written >= 1
    proc = mm.spawn("mkclean")
    vma = proc.mmap(f, 2 * PAGE, prot="rw", shared=True)
    assert proc.write_memory(vma.start, b"AAAA").written == 4
    assert f.fsync().folios_written == 1
    assert proc.write_memory(vma.start, b"BBBB").written == 4
    assert f.fsync().folios_written == 1           # the store after the clean faulted and dirtied the folio
    assert proc.read(vma.start, 4) == b"BBBB" and f.read(0, 4) == b"BBBB"
    proc.munmap(vma.start, vma.length)
    assert f.fadvise_dontneed().folios_removed >= 1
    assert f.read(0, 8) == b"BBBBxxxx"              # cold: from the blocks


def test_fsync_write_protects_every_pte_of_a_large_folio_in_every_process(mm):
    f = _file(mm, block_size=16384)
    f.write(0, b"." * 16 * PAGE)
    f.fsync()
    f.fadvise_dontneed()
    procs = [mm.spawn(f"mk{i}") for i in range(3)]
    vmas = [p.mmap(f, 16 * PAGE, prot="rw", shared=True) for p in procs]
    for p, v in zip(procs, vmas):
        r = p.fault(v.start + 5 * PAGE)             # read fault: maps the whole large folio read-only
        nr = 1 << r.folio_order                     # order 2 (a 16 KiB block) unless memory is fragmented
        assert r.ok and nr >= 2 and r.pages_mapped == nr
    head, first = r.folio_pfn, 5 - (r.pfn - r.folio_pfn)
    # process i stores at its own bytes of page first + i % nr: every process dirties the same folio
    spots = [(first + i % nr) * PAGE + 16 * i for i in range(3)]
    before = mm.vmstat()
    for i, (p, v) in enumerate(zip(procs, vmas)):
        assert p.write_memory(v.start + spots[i], bytes([65 + i]) * 8).faults == 1   # wp fault, folio dirtied
    assert mm.vmstat()["nr_dirty"] == before["nr_dirty"] + nr
    st = f.fsync()
    assert st.folios_written == 1 and mm.vmstat()["nr_dirty"] == before["nr_dirty"]
    for i, (p, v) in enumerate(zip(procs, vmas)):
        # the page each process stored to was writable; the fsync write-protected it: the next store faults
        assert p.write_memory(v.start + spots[i] + 8, b"Z").faults == 1
    assert f.fsync().folios_written == 1
    for i, (p, v) in enumerate(zip(procs, vmas)):
        assert p.read(v.start + spots[i], 10) == bytes([65 + i]) * 8 + b"Z."
        assert _pte(mm, p, v.start + first * PAGE)[1:] == (head, r.folio_order)
    for p in procs:
        p.exit()
    f.fadvise_dontneed()
    for i in range(3):
        assert f.read(spots[i], 10) == bytes([65 + i]) * 8 + b"Z."


def test_a_clean_folio_mapped_writable_is_not_written_again(mm):
    """Writeback writes only what was dirtied: after an fsync with no store since, nothing is written, and
    a read-only access does not dirty the folio."""
    f = _file(mm)
    f.write(0, b"q" * PAGE)
    proc = mm.spawn("clean")
    vma = proc.mmap(f, PAGE, prot="rw", shared=True)
    proc.write_memory(vma.start, b"W")
    assert f.fsync().folios_written == 1
    assert proc.read(vma.start, 2) == b"Wq"
    assert f.fsync().folios_written == 0


def test_mkclean_leaves_private_mappings_alone(mm):
    """page_mkclean_one skips VMAs without VM_SHARED: a private COW page keeps its PTE writable."""
    f = _file(mm)
    f.write(0, b"p" * PAGE)
    proc = mm.spawn("private")
    shared = proc.mmap(f, PAGE, prot="rw", shared=True)
    private = proc.mmap(f, PAGE, prot="rw", shared=False)
    assert proc.write_memory(private.start, b"COW").faults == 1
    assert proc.write_memory(shared.start, b"S").faults == 1
    assert f.fsync().folios_written == 1
    assert proc.write_memory(private.start, b"cow").faults == 0     # its own anonymous page: still writable
    assert proc.write_memory(shared.start, b"s").faults == 1        # write-protected by the fsync
    assert f.read(0, 3) == b"spp" and proc.read(private.start, 3) == b"cow"
    st = mm.call("rmap", "ProcStatus", rm.ProcStatusRequest(pid=proc.pid))
    assert st.rss_anon == 1


@pytest.mark.parametrize("block_size", [4096, 65536])
def test_mkclean_is_one_hop_and_one_script_per_fsync_whatever_the_folios(mm, block_size):
    """folio_mkclean for every dirty folio of an fsync: one FolioMkclean hop, one Redis round trip in it,
    for several small folios (4K blocks: readahead's growing orders) as for one order-4 folio (64K
    blocks; smaller ones when memory is fragmented), mapped by two processes."""
    f = _file(mm, block_size=block_size)
    f.write(0, b"-" * 16 * PAGE)
    f.fsync()
    f.fadvise_dontneed()
    procs = [mm.spawn("one"), mm.spawn("two")]
    vmas = [p.mmap(f, 16 * PAGE, prot="rw", shared=True) for p in procs]
    for p, v in zip(procs, vmas):
        for i in range(16):
            p.write_memory(v.start + i * PAGE, b"%x" % i)
    st = f.fsync()
    assert st.folios_written >= 1
    tree = mm.trace(mm.last_trace_id)
    spans = tree.find("ReverseMapService/FolioMkclean")
    assert len(spans) == 1 and spans[0].redis_round_trips == 1, tree.render()
    print(f"fsync of {st.folios_written} folios: {tree.hops} hops, {tree.redis_round_trips} Redis round trips")
    for p, v in zip(procs, vmas):
        assert p.write_memory(v.start + 15 * PAGE, b"!").faults == 1
        p.exit()


@pytest.mark.parametrize("block_size", [4096, 16384])
def test_no_store_is_lost_to_fsyncs_running_alongside(mm, block_size):
    """Stores through a mapping race with fsyncs of the file: whatever the interleaving, once the stores
    are acknowledged, one more fsync makes the blocks hold every last store (a cold read after munmap and
    DONTNEED shows them). A store that hit a PTE a writeback had not write-protected, on a folio that
    writeback had cleaned, would be missing."""
    f = _file(mm, block_size=block_size)
    f.write(0, b"." * 8 * PAGE)
    proc = mm.spawn("racer")
    vma = proc.mmap(f, 8 * PAGE, prot="rw", shared=True)
    model = bytearray(b"." * 8 * PAGE)
    done = threading.Event()

    def fsyncs():
        while not done.is_set():
            f.fsync()

    syncer = threading.Thread(target=fsyncs)
    syncer.start()
    try:
        for i in range(48):
            off = (i * 5 % 8) * PAGE + (i % 7) * 16
            data = b"%04d" % i
            assert proc.write_memory(vma.start + off, data).written == 4
            model[off:off + 4] = data
    finally:
        done.set()
        syncer.join()
    f.fsync()
    proc.munmap(vma.start, vma.length)
    f.fadvise_dontneed()
    assert f.stat().nrpages == 0
    assert f.read(0, 8 * PAGE) == bytes(model)
    proc.exit()
