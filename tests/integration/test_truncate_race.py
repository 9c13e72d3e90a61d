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

from mmsim.client import PAGE_SIZE, Cluster
from mmsim.v1 import filesystem_pb2, page_allocator_pb2, reverse_map_pb2

SIZE = 64 * PAGE_SIZE


def nr_free_pages(mm) -> int:
    return mm.call("allocator", "VmStat", page_allocator_pb2.VmStatRequest()).values["nr_free_pages"]


def test_truncate_racing_faults_leaves_nothing_beyond_eof_and_leaks_nothing(stack_settings):
    with Cluster.connect(stack_settings) as mm:
        free_before = nr_free_pages(mm)
        fs = mm.mkfs("racefs", block_size=16384)
        f = fs.create("/race")
        f.write(0, bytes(range(256)) * (SIZE // 256))
        proc = mm.spawn("racer")
        vma = proc.mmap(f, SIZE)
        rng = random.Random(5)
        errors: list[BaseException] = []
        stop = threading.Event()

        def faulter(seed: int) -> None:
            r = random.Random(seed)
            try:
                while not stop.is_set():
                    res = proc.fault(vma.start + r.randrange(SIZE // PAGE_SIZE) * PAGE_SIZE)
                    assert res.ok or "SIGBUS" in str(res.vm_fault) or "RETRY" in str(res.vm_fault), res
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=faulter, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
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
        assert nr_free_pages(mm) == free_before
        with pytest.raises(grpc.RpcError) as err:   # the process was reaped
            proc.fault(vma.start)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
