"""Exit and Unlink retried after their first attempt got past the step that makes the work impossible to find
again (the pid released, the name removed) answer as that attempt would have, not NOT_FOUND.

The first attempt's durable step records what it did under the request id (mmsim.runtime.idempotency:
``{req:ID}:did``, in the step's own script); the peer it calls next is dead, so it answers UNAVAILABLE and its
id is released; the retry (same id, as the client's gRPC retry policy sends it) finds the record. What the
first attempt left undone is finished by the recovery passes (the ledger frees the exited process's folios)
or by the retry itself (the unlink's intent).
"""

from __future__ import annotations

import uuid

import grpc
import pytest
import redis

import crash
from mmsim import stack
from mmsim.client import PAGE_SIZE, Cluster, new_traceparent
from mmsim.runtime import idempotency, keys
from mmsim.v1 import filesystem_pb2, reverse_map_pb2


@pytest.fixture(scope="module")
def restartable(private_stack):
    with private_stack("mmsim-retried-ops", MMSIM_MEMORY="64MiB", MMSIM_LOG_LEVEL="info") as settings:
        yield settings


@pytest.fixture()
def rdb(restartable):
    client = redis.Redis.from_url(restartable.redis_url)
    yield client
    client.close()


def _metadata() -> list[tuple[str, str]]:
    _, traceparent = new_traceparent()
    return [("traceparent", traceparent), (idempotency.METADATA_KEY, uuid.uuid4().hex)]


def test_an_exit_whose_allocator_died_after_the_pid_was_released_answers_its_counts(restartable, rdb):
    with Cluster.connect(restartable) as mm:
        mm.reset()
        free_before = mm.vmstat()["nr_free_pages"]
        f = mm.mkfs("exiting").create("/f")
        f.write(0, b"x" * (4 * PAGE_SIZE))
        proc = mm.spawn("exiting")
        shared = proc.mmap(f, 4 * PAGE_SIZE, prot="r")
        private = proc.mmap(f, 4 * PAGE_SIZE, prot="rw", shared=False)
        for i in range(4):
            assert proc.fault(shared.start + i * PAGE_SIZE).ok
        for i in range(2):
            assert proc.write_memory(private.start + i * PAGE_SIZE, b"cow").ok   # two anonymous COW pages
        crash.kill9(restartable, "allocator")          # the exit's free of its anonymous folios will fail
        resp = mm.stubs["rmap"].Exit(reverse_map_pb2.ExitRequest(pid=proc.pid), timeout=120, metadata=_metadata())
        assert (resp.pages_unmapped, resp.vmas, resp.folios_freed) == (6, 2, 2)
        with pytest.raises(grpc.RpcError) as err:
            mm.stubs["rmap"].Exit(reverse_map_pb2.ExitRequest(pid=proc.pid), timeout=120, metadata=_metadata())
        assert err.value.code() == grpc.StatusCode.NOT_FOUND   # another request: the pid is gone
        stack.up(restartable, timeout=120, tied=False)
        mm.recover(older_than_ms=1)                    # the ledger frees what the first attempt could not
        report = mm.check()
        assert [v.to_dict() for v in report.violations] == [] and report.owners.get("anon", 0) == 0
        f.unlink()
        assert mm.vmstat()["nr_free_pages"] == free_before


def test_an_unlink_whose_page_cache_died_after_the_name_was_removed_is_finished_by_its_retry(restartable, rdb):
    with Cluster.connect(restartable) as mm:
        mm.reset()
        free_before = mm.vmstat()["nr_free_pages"]
        fs = mm.mkfs("unlinking")
        f = fs.create("/doomed")
        f.write(0, b"y" * (8 * PAGE_SIZE))             # cached: the eviction asks the page cache
        metadata = _metadata()
        req = filesystem_pb2.UnlinkRequest(fs=fs.name, path="/doomed")
        crash.kill9(restartable, "pagecache")
        with pytest.raises(grpc.RpcError) as err:
            mm.stubs["filesystem"].Unlink(req, timeout=120, metadata=metadata)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE   # the name is gone, the eviction could not run
        assert rdb.hget(keys.fs(fs.name, "dir"), "/doomed") is None
        stack.up(restartable, timeout=120, tied=False)
        resp = mm.stubs["filesystem"].Unlink(req, timeout=120, metadata=metadata)   # the retry, same id
        assert resp.mapping == f.mapping and not resp.orphaned
        assert not rdb.exists(keys.mapping(f.mapping, "intent"), keys.mapping(f.mapping, "inode"))
        with pytest.raises(grpc.RpcError) as err:
            mm.stubs["filesystem"].Unlink(req, timeout=120, metadata=_metadata())
        assert err.value.code() == grpc.StatusCode.NOT_FOUND     # another request: no such file
        report = mm.check()
        assert [v.to_dict() for v in report.violations] == []
        assert mm.vmstat()["nr_free_pages"] == free_before
