"""A truncate racing with faults on the same file (issue 5): never a page mapped beyond EOF, never a leak.

Faults from several threads and truncates/regrows from another run against the real stack. At every
check the process's file RSS fits below i_size's pages... and once the process exits and the file is
unlinked, the allocator's free page count is back where it started.
"""

from __future__ import annotations

import random
import threading

import grpc
import pytest

from mmsim import stack
from mmsim.client import PAGE_SIZE, Cluster
from mmsim.v1 import filesystem_pb2, page_cache_pb2, reverse_map_pb2

SIZE = 64 * PAGE_SIZE


def start_faulters(proc, vma, n: int = 3):
    """n threads faulting random pages of vma until the event is set; failures other than SIGBUS/RETRY
    (the file may have shrunk under them) are collected."""
    stop, errors = threading.Event(), []

    def faulter(seed: int) -> None:
        r = random.Random(seed)
        try:
            while not stop.is_set():
                res = proc.fault(vma.start + r.randrange(SIZE // PAGE_SIZE) * PAGE_SIZE)
                assert res.ok or "SIGBUS" in str(res.vm_fault) or "RETRY" in str(res.vm_fault), res
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=faulter, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    return stop, errors, threads



def test_truncate_racing_faults_leaves_nothing_beyond_eof_and_leaks_nothing(stack_settings):
    with Cluster.connect(stack_settings) as mm:
        free_before = mm.vmstat()["nr_free_pages"]
        fs = mm.mkfs("racefs", block_size=16384)
        f = fs.create("/race")
        f.write(0, bytes(range(256)) * (SIZE // 256))
        proc = mm.spawn("racer")
        vma = proc.mmap(f, SIZE)
        rng = random.Random(5)
        stop, errors, threads = start_faulters(proc, vma)
        try:
            for _ in range(12):
                size = rng.randrange(0, SIZE, 1000)
                f.truncate(size)
                status = mm.call("rmap", "ProcStatus", reverse_map_pb2.ProcStatusRequest(pid=proc.pid))
                assert status.rss_file <= SIZE // PAGE_SIZE
                f.write(size, b"\x5a" * (SIZE - size))   # grow back so faults keep finding pages
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        assert not errors, errors[0]

        # settle: a final truncate with no fault in flight, then nothing may stay mapped beyond EOF
        f.truncate(10 * PAGE_SIZE + 5)
        status = mm.call("rmap", "ProcStatus", reverse_map_pb2.ProcStatusRequest(pid=proc.pid))
        assert status.rss_file <= 11
        beyond = proc.fault(vma.start + 20 * PAGE_SIZE)
        assert "SIGBUS" in str(beyond.vm_fault)
        assert f.read(0, 16) == bytes(range(16))

        mm.call("rmap", "Exit", reverse_map_pb2.ExitRequest(pid=proc.pid))
        mm.call("filesystem", "Unlink", filesystem_pb2.UnlinkRequest(fs="racefs", path="/race"))
        assert mm.vmstat()["nr_free_pages"] == free_before
        with pytest.raises(grpc.RpcError) as err:   # the process was reaped
            proc.fault(vma.start)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_truncate_on_one_replica_racing_faults_through_another(stack_settings, tmp_path):
    """Inode locks are per process: across filesystem replicas the page cache's data_seq check (AddFolio
    refuses a folio filled before a truncate it did not see) keeps stale folios out, and the reverse map's
    install re-checks i_size, so nothing is mapped beyond EOF and nothing leaks."""
    other = stack.replica_settings(stack_settings, str(tmp_path / "replica"))
    stack.services_up(other, timeout=60, tied=True)
    try:
        with Cluster.connect(stack_settings) as a, Cluster.connect(other) as b:
            free_before = a.vmstat()["nr_free_pages"]
            f = a.mkfs("racefs2", block_size=4096).create("/race")
            f.write(0, b"\x11" * SIZE)
            proc = b.spawn("racer")                          # faults go through replica set B
            vma = proc.mmap(type(f)(b, f.fs, f.path, f.mapping), SIZE)
            stop, errors, threads = start_faulters(proc, vma)
            try:
                rng = random.Random(9)
                for _ in range(10):
                    size = rng.randrange(0, SIZE, PAGE_SIZE)
                    f.truncate(size)                          # truncates go through replica set A
                    f.write(size, b"\x22" * (SIZE - size))
            finally:
                stop.set()
                for t in threads:
                    t.join(60)
            assert not errors, errors[0]
            f.truncate(3 * PAGE_SIZE)
            status = a.call("rmap", "ProcStatus", reverse_map_pb2.ProcStatusRequest(pid=proc.pid))
            assert status.rss_file <= 3
            # no folio starts beyond EOF (a dirty large folio straddling it may stay, its tail zeroed)
            for idx in range(3, SIZE // PAGE_SIZE):
                found = a.call("pagecache", "FindFolio", page_cache_pb2.FindFolioRequest(mapping=f.mapping, index=idx))
                assert not found.found or found.folio_index < 3, (idx, found)
            assert len(f.read(0, SIZE)) == 3 * PAGE_SIZE      # read(2) stops at the new EOF
            assert "SIGBUS" in str(proc.fault(vma.start + 5 * PAGE_SIZE).vm_fault)
            b.call("rmap", "Exit", reverse_map_pb2.ExitRequest(pid=proc.pid))
            a.call("filesystem", "Unlink", filesystem_pb2.UnlinkRequest(fs="racefs2", path="/race"))
            assert a.vmstat()["nr_free_pages"] == free_before
    finally:
        stack.services_down(other)
