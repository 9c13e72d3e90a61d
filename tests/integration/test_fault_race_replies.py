"""Honest fault replies (issue 9 item 5): threads of one process racing to fault one address of an uncached
file. Whoever loses the PTE race (finish_fault's VM_FAULT_NOPAGE) still reports what is mapped there, and
every reply agrees with the page tables (a fault on the now-present PTE), ReadMemory and FolioMapcount."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest

from mmsim.runtime.vmfault import VmFault
from mmsim.v1 import reverse_map_pb2 as rm

PAGE = 4096
THREADS = 16


@pytest.mark.parametrize("block_size, write", [(4096, False), (16384, False), (16384, True)])
def test_every_racing_fault_reply_names_the_mapped_page(mm, block_size, write):
    f = mm.mkfs("r" + secrets.token_hex(4), block_size=block_size).create("/race")
    f.write(0, bytes(range(256)) * 64 * 4)        # 64 KiB
    f.fsync()
    assert f.fadvise_dontneed().folios_removed >= 1   # uncached: the first fault is a major one
    proc = mm.spawn("racer")
    vma = proc.mmap(f, 64 * 1024, prot="rw", shared=True)
    address = vma.start + 5 * PAGE + 100
    with ThreadPoolExecutor(THREADS) as pool:
        replies = list(pool.map(lambda _: proc.fault(address, write=write), range(THREADS)))
    now = proc.fault(address)                      # what the page table holds (spurious: present)
    assert now.spurious and now.pfn and now.folio_pfn <= now.pfn < now.folio_pfn + (1 << now.folio_order)
    print("replies:", sorted(str(r.vm_fault) for r in replies))
    for r in replies:
        assert r.ok, r
        assert not r.vm_fault & VmFault.RETRY, r
        assert (r.pfn, r.folio_pfn, r.folio_order) == (now.pfn, now.folio_pfn, now.folio_order), (r, now)
    assert sum(r.pages_mapped for r in replies) == 1 << now.folio_order   # one winner mapped the folio
    mc = mm.call("rmap", "FolioMapcount", rm.FolioMapcountRequest(pfn=now.pfn, node=0))
    assert mc.folio.pfn == now.folio_pfn and mc.per_process[proc.pid] == 1
    assert proc.read(address - 100, 4) == f.read(5 * PAGE, 4)
    maps = mm.call("rmap", "ProcMaps", rm.ProcMapsRequest(pid=proc.pid)).lines
    assert len(maps) == 1 and maps[0].startswith(f"{vma.start:08x}-{vma.end:08x} rw-s ")
    st = mm.call("rmap", "ProcStatus", rm.ProcStatusRequest(pid=proc.pid))
    assert st.rss_file == 1 << now.folio_order
    proc.exit()
