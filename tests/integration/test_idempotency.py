"""Idempotent mutating RPCs over real gRPC: the same ``mmsim-request-id`` twice is one effect and one answer.

A retry of a finished call gets the first answer (a success or an error, byte for byte); a retry arriving
while the first attempt still runs is refused UNAVAILABLE (the caller's retry policy comes back) and runs
nothing; reads and calls without an id run as before; calls a request makes to peers carry ids derived from
it, so a retried request re-sends the same ones.
"""

from __future__ import annotations

import secrets

import grpc
import pytest
import redis

from mmsim.runtime import keys
from mmsim.runtime.idempotency import METADATA_KEY, alive_key
from mmsim.v1 import filesystem_pb2, filesystem_pb2_grpc, page_allocator_pb2 as pa, page_allocator_pb2_grpc
from mmsim.v1 import reverse_map_pb2, reverse_map_pb2_grpc


@pytest.fixture()
def alloc(stack_settings):
    with grpc.insecure_channel(stack_settings.addrs["allocator"]) as ch:
        yield page_allocator_pb2_grpc.PageAllocatorServiceStub(ch)


@pytest.fixture()
def rdb(stack_settings):
    client = redis.Redis.from_url(stack_settings.redis_url)
    yield client
    client.close()


def _free_pages(alloc) -> int:
    return int(alloc.VmStat(pa.VmStatRequest()).values["nr_free_pages"])


def _rid() -> tuple[tuple[str, str]]:
    return ((METADATA_KEY, "test-" + secrets.token_hex(8)),)


def test_same_request_id_twice_is_one_allocation_and_one_answer(alloc):
    md = _rid()
    before = _free_pages(alloc)
    first = alloc.AllocPages(pa.AllocPagesRequest(order=2), metadata=md)
    again = alloc.AllocPages(pa.AllocPagesRequest(order=2), metadata=md)
    assert again.SerializeToString() == first.SerializeToString()
    assert _free_pages(alloc) == before - 4
    other = alloc.AllocPages(pa.AllocPagesRequest(order=2), metadata=_rid())   # a new id is a new request
    assert other.folio.pfn != first.folio.pfn
    assert _free_pages(alloc) == before - 8
    for folio in (first.folio, other.folio):
        alloc.FreePages(pa.FreePagesRequest(pfn=folio.pfn, order=2))
    assert _free_pages(alloc) == before


def test_same_request_id_twice_frees_once(alloc):
    folio = alloc.AllocPages(pa.AllocPagesRequest(order=0)).folio
    md = _rid()
    first = alloc.FreePages(pa.FreePagesRequest(pfn=folio.pfn, order=0), metadata=md)
    again = alloc.FreePages(pa.FreePagesRequest(pfn=folio.pfn, order=0), metadata=md)   # not a double free
    assert again == first
    with pytest.raises(grpc.RpcError) as err:   # without the id it is one: refused, precisely
        alloc.FreePages(pa.FreePagesRequest(pfn=folio.pfn, order=0), metadata=_rid())
    assert err.value.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT)


def test_an_error_answer_is_answered_again(stack_settings):
    md = _rid()
    with grpc.insecure_channel(stack_settings.addrs["rmap"]) as ch:
        stub = reverse_map_pb2_grpc.ReverseMapServiceStub(ch)
        errs = []
        for _ in range(2):
            with pytest.raises(grpc.RpcError) as err:
                stub.Spawn(reverse_map_pb2.SpawnRequest(comm="x" * 40), metadata=md)
            errs.append((err.value.code(), err.value.details()))
    assert errs[0] == errs[1] and errs[0][0] == grpc.StatusCode.INVALID_ARGUMENT


def test_spawn_retried_is_one_process(stack_settings):
    md = _rid()
    with grpc.insecure_channel(stack_settings.addrs["rmap"]) as ch:
        stub = reverse_map_pb2_grpc.ReverseMapServiceStub(ch)
        pids = {stub.Spawn(reverse_map_pb2.SpawnRequest(comm="idem"), metadata=md).pid for _ in range(3)}
        assert len(pids) == 1
        stub.Exit(reverse_map_pb2.ExitRequest(pid=pids.pop()))


def test_retry_while_the_first_attempt_runs_is_refused_and_runs_nothing(alloc, rdb):
    md = _rid()
    rdb.set(alive_key("replica2"), 1, px=60_000)             # a live service instance...
    rdb.set(keys.request(md[0][1]), "running:replica2", px=60_000)   # ...is running the first attempt
    before = _free_pages(alloc)
    with pytest.raises(grpc.RpcError) as err:
        alloc.AllocPages(pa.AllocPagesRequest(order=0), metadata=md)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "still being served" in err.value.details() and "replica2" in err.value.details()
    assert _free_pages(alloc) == before
    assert rdb.get(keys.request(md[0][1])) == b"running:replica2"   # the first attempt's claim is left alone
    rdb.delete(alive_key("replica2"))


def test_retry_after_the_first_attempts_service_died_runs_once(alloc, rdb):
    md = _rid()
    rdb.set(keys.request(md[0][1]), "running:deadbeef", px=60_000)   # its instance has no heartbeat: killed
    before = _free_pages(alloc)
    first = alloc.AllocPages(pa.AllocPagesRequest(order=0), metadata=md)
    assert alloc.AllocPages(pa.AllocPagesRequest(order=0), metadata=md) == first
    assert _free_pages(alloc) == before - 1
    alloc.FreePages(pa.FreePagesRequest(pfn=first.folio.pfn, order=0))


def test_a_bad_request_id_is_invalid_argument(alloc):
    with pytest.raises(grpc.RpcError) as err:
        alloc.AllocPages(pa.AllocPagesRequest(order=0), metadata=((METADATA_KEY, "x" * 500),))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and METADATA_KEY in err.value.details()


def test_calls_to_peers_carry_request_ids_derived_from_the_request(stack_settings, rdb):
    rid = "test-" + secrets.token_hex(8)
    with grpc.insecure_channel(stack_settings.addrs["filesystem"]) as ch:
        stub = filesystem_pb2_grpc.FilesystemServiceStub(ch)
        stub.Mkfs(filesystem_pb2.MkfsRequest(name="idem" + rid[-6:], block_size=4096))
        f = stub.Create(filesystem_pb2.CreateRequest(fs="idem" + rid[-6:], path="/a"))
        md = ((METADATA_KEY, rid),)
        first = stub.Write(filesystem_pb2.WriteRequest(mapping=f.mapping, offset=0, data=b"a" * 9000), metadata=md)
        again = stub.Write(filesystem_pb2.WriteRequest(mapping=f.mapping, offset=0, data=b"a" * 9000), metadata=md)
        assert again == first
        assert stub.Stat(filesystem_pb2.StatRequest(mapping=f.mapping)).i_size == 9000
    children = sorted(k.decode() for k in rdb.scan_iter(match=keys.request(rid + "/*").replace("{", "\\{")))
    assert children, "the Write's calls to the page cache and the allocator carried no request id"
    assert all("#" in k for k in children), children
