"""A populate whose block read predates a writeback must not insert what it read (the chaos test's lost bytes).

The kernel adds the locked folio to the page cache before it reads the blocks into it (filemap_create_folio,
page_cache_ra_unbounded), so a write finds that folio and waits, and writeback cannot write blocks the read
has not seen. mmsim's populate reads the blocks first (in the invalidate_lock's grant) and inserts the filled
folio later: in between, a write(2) may insert its own folio, fsync may write it to the blocks, and reclaim
or drop_caches may evict it, clean. The insert then lands in an empty slot with the old bytes. The page
cache refuses it (the inode's data_seq moved, as XFS's iomap_valid refuses a stale iomap) and populate reads
again. The window is held open by a pause point (MMSIM_FAULT_INJECT=pause:populate:read), not by a timing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from mmsim.client import PAGE_SIZE, Cluster
from pause import Pause, paused_stack

POINT = "populate:read"


@pytest.fixture(scope="module")
def paused(private_stack):
    with paused_stack(private_stack, "stale-populate", POINT) as settings:
        yield settings


@pytest.mark.parametrize("write_fault", [False, True], ids=["read-fault-zero-entry", "write-fault-folio"])
def test_a_populate_that_read_the_blocks_before_a_writeback_reads_them_again(paused, write_fault):
    pause = Pause(paused, POINT)
    new = b"N" * (2 * PAGE_SIZE)
    with Cluster.connect(paused) as mm:
        fs = mm.mkfs(f"stale{int(write_fault)}", profile="linux-6.12")
        f = fs.create("/f")
        f.truncate(len(new))                      # two pages of hole: a read fault makes a zero entry
        p = mm.spawn("stale")
        vma = p.mmap(f, len(new), prot="rw", shared=True)
        with ThreadPoolExecutor(1) as pool:
            fault = pool.submit(p.fault, vma.start, write_fault)
            assert pause.reached(), "the fault's populate never reached its block read"
            # the populate read a hole; now the bytes reach the blocks and their folio leaves the cache
            assert f.write(0, new) == len(new)
            f.fsync()
            dropped = mm.drop_caches(1)
            assert dropped.folios_removed >= 1, dropped   # else the window was not exercised
            pause.resume(8)                               # let the populate (and its re-reads) go on
            assert fault.result(timeout=120).ok
        assert p.read(vma.start, len(new)) == new         # the mapping sees the written bytes, not the hole
        assert f.read(0, len(new)) == new
        p.write_memory(vma.start, b"X")                   # a store dirties the folio the fault inserted
        f.fsync()
        assert f.read(0, len(new)) == b"X" + new[1:]      # its writeback must not put the hole back
        p.exit()
        f.unlink()
