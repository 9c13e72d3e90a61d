"""Concurrent faults on one index (issue 5): exactly one folio is inserted; the losers free theirs and map
the winner's (the kernel's -EEXIST path in __filemap_get_folio). Nothing leaks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from mmsim.client import PAGE_SIZE, Cluster
from mmsim.v1 import filesystem_pb2, page_cache_pb2, reverse_map_pb2



def test_racing_faults_insert_one_folio_and_leak_none(stack_settings):
    with Cluster.connect(stack_settings) as mm:
        free_before = mm.vmstat()["nr_free_pages"]
        fs = mm.mkfs("racepop", block_size=16384)
        f = fs.create("/r")
        f.write(0, b"r" * (64 * PAGE_SIZE))
        f.fsync()
        f.fadvise_dontneed()
        procs = [mm.spawn(f"p{i}") for i in range(8)]
        vmas = [p.mmap(f, 64 * PAGE_SIZE) for p in procs]
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda pv: pv[0].fault(pv[1].start + 8 * PAGE_SIZE), zip(procs, vmas)))
        assert all(r.ok for r in results), [str(r.vm_fault) for r in results]
        assert len({r.pfn for r in results}) == 1            # one folio for everyone
        stats = mm.call("pagecache", "XaStats", page_cache_pb2.XaStatsRequest(mapping=f.mapping))
        assert stats.folio_entries == 1
        for p in procs:
            mm.call("rmap", "Exit", reverse_map_pb2.ExitRequest(pid=p.pid))
        mm.call("filesystem", "Unlink", filesystem_pb2.UnlinkRequest(fs="racepop", path="/r"))
        assert mm.vmstat()["nr_free_pages"] == free_before
