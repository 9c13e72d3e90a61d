"""mprotect(2) against a real stack (cases after tools/testing/selftests/mm/mprotect and the man page):
VMAs split at the range's ends and merge back, a store to a read-only VMA is SIGSEGV, PROT_NONE makes
every access fault, and a store to a read-only PTE of a writable private VMA copies the page (COW)."""

from __future__ import annotations

import itertools

import pytest

from mmsim import errors
from mmsim.client import PAGE_SIZE, Process
from mmsim.runtime.vmfault import VmFault
from mmsim.v1 import reverse_map_pb2

_names = itertools.count()


@pytest.fixture()
def file(mm):
    f = mm.mkfs(f"mprot{next(_names)}", profile="linux-6.12").create("/f")
    f.write(0, b"abcd" * PAGE_SIZE)
    return f


def test_split_and_merge_back(mm, file):
    p = mm.spawn("mprot")
    v = p.mmap(file, 4 * PAGE_SIZE, prot="rw", shared=True)
    r = p.mprotect(v.start + PAGE_SIZE, PAGE_SIZE, "r")
    assert (r.vmas_replaced, r.vmas_now) == (1, 3)
    maps = p.maps()
    assert [line.split()[1] for line in maps] == ["rw-s", "r--s", "rw-s"]
    assert [int(line.split()[2], 16) for line in maps] == [0, PAGE_SIZE, 2 * PAGE_SIZE]
    assert p.status().map_count == 3
    r = p.mprotect(v.start + PAGE_SIZE, PAGE_SIZE, "rw")
    assert (r.vmas_replaced, r.vmas_now) == (3, 1)
    assert len(p.maps()) == 1 and p.status().map_count == 1
    assert p.mprotect(v.start, 4 * PAGE_SIZE, "rw").vmas_replaced == 0     # nothing changes
    assert mm.check().ok
    p.exit()


def test_a_store_to_a_read_only_range_is_sigsegv(mm, file):
    p = mm.spawn("mprot")
    v = p.mmap(file, 2 * PAGE_SIZE, prot="rw", shared=True)
    assert p.write_memory(v.start, b"one").written == 3
    r = p.mprotect(v.start, PAGE_SIZE, "r")
    assert r.ptes_changed == 1                                     # the writable PTE was write-protected
    w = p.write_memory(v.start, b"two")
    assert w.written == 0 and w.vm_fault & VmFault.SIGSEGV
    assert p.fault(v.start, write=True).outcome == "sigsegv"
    assert p.read(v.start, 3) == b"one"                            # reads still work
    assert p.write_memory(v.start + PAGE_SIZE, b"ok").written == 2  # the other half stays writable
    p.mprotect(v.start, PAGE_SIZE, "rw")
    assert p.write_memory(v.start, b"two").written == 3            # wp_page_shared makes it writable again
    assert file.read(0, 3) == b"two"
    p.exit()


def test_prot_none_makes_every_access_fault(mm, file):
    p = mm.spawn("mprot")
    v = p.mmap(file, PAGE_SIZE, prot="r", shared=True)
    pfn = p.fault(v.start).pfn
    p.mprotect(v, prot="")
    assert p.maps()[0].split()[1] == "---s"
    assert p.fault(v.start).outcome == "sigsegv"
    assert p.read_memory(v.start, 1).vm_fault & VmFault.SIGSEGV
    assert mm.rmap.folio_mapcount(pfn).per_process == {p.pid: 1}   # the PTE stays; only access is refused
    p.mprotect(v, prot="r")
    assert p.read(v.start, 4) == b"abcd"
    p.exit()


def test_a_store_to_a_read_only_pte_of_a_writable_private_vma_copies(mm, file):
    p = mm.spawn("mprot")
    v = p.mmap(file, PAGE_SIZE, prot="r", shared=False)
    file_pfn = p.fault(v.start).pfn                    # the page-cache page, mapped read-only
    p.mprotect(v, prot="rw")
    assert p.write_memory(v.start, b"mine").written == 4
    f = p.fault(v.start)
    assert f.pfn != file_pfn                           # do_wp_page -> wp_page_copy
    assert p.read(v.start, 6) == b"mineab" and file.read(0, 6) == b"abcdab"
    assert p.status().rss_anon == 1
    # write-protect the anonymous page, then write again: mapped once, it is reused in place
    p.mprotect(v, prot="r")
    p.mprotect(v, prot="rw")
    assert p.write_memory(v.start, b"MINE").written == 4
    assert p.fault(v.start).pfn == f.pfn
    assert mm.check().ok
    p.exit()


def test_bad_input_is_refused_and_changes_nothing(mm, file):
    p = mm.spawn("mprot")
    v = p.mmap(file, 2 * PAGE_SIZE, prot="r", shared=True)
    before = p.maps()
    with pytest.raises(errors.InvalidArgument, match="page aligned"):
        p.mprotect(v.start + 1, PAGE_SIZE, "r")
    with pytest.raises(errors.NotFound, match="not mapped"):
        p.mprotect(v.start, 3 * PAGE_SIZE, "rw")               # runs past the VMA: ENOMEM, no change at all
    with pytest.raises(errors.InvalidArgument, match="not a Prot value"):
        mm.rmap_call("Mprotect", reverse_map_pb2.MprotectRequest(pid=p.pid, addr=v.start, length=PAGE_SIZE, prot=[3]))
    with pytest.raises(errors.InvalidArgument, match="prot letters"):
        p.mprotect(v.start, PAGE_SIZE, "q")
    with pytest.raises(errors.NotFound, match="no process"):
        Process(mm, 4_000_002, "x").mprotect(v.start, PAGE_SIZE, "r")
    assert p.maps() == before
    assert p.mprotect(v.start, 0, "rw").vmas_replaced == 0      # length 0: success, nothing to do
    assert p.maps() == before
    p.exit()
