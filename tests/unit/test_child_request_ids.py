"""Request ids of a parent's calls to its peers (mmsim.runtime.idempotency.Request.child_id): a retried parent
that retraces its first attempt's calls gets the first attempt's answers; from the first call that differs (the
state moved on between the attempts) every call is a new request. Chaos runs found the two ways positional ids
lose bytes: a retried Write asked AllocPages for an order-1 folio and was told the order-0 folio its dead first
attempt had got; and one that found its first attempt's folio in the page cache asked AllocPages for the next
page and was handed that very folio again (the same request bytes at the same place)."""

from __future__ import annotations

from mmsim.runtime.idempotency import Request
from mmsim.v1 import common_pb2, page_allocator_pb2, page_cache_pb2

ALLOC = "/mmsim.v1.PageAllocatorService/AllocPages"
WRITE = "/mmsim.v1.PageCacheService/WriteFolio"
ADD = "/mmsim.v1.PageCacheService/AddFolio"


def _alloc(order: int) -> bytes:
    return page_allocator_pb2.AllocPagesRequest(order=order, gfp=common_pb2.GfpMask(flags=[common_pb2.GFP_FLAG_COMP]),
                                                node=-1).SerializeToString(deterministic=True)


def _write(offset: int) -> bytes:
    return page_cache_pb2.WriteFolioRequest(mapping="f/1", offset=offset, data=b"x").SerializeToString()


def _ids(req: Request, calls) -> list[str]:
    return [req.child_id(m, r) for m, r in calls]


def test_a_retry_retracing_its_first_attempt_gets_the_same_ids():
    calls = [(WRITE, _write(0)), (ALLOC, _alloc(1)), (ADD, b"index 0"), (WRITE, _write(8192)), (ALLOC, _alloc(1))]
    first = _ids(Request("client-1"), calls)
    assert _ids(Request("client-1"), calls) == first
    assert len(set(first)) == len(first)                 # the two identical AllocPages calls differ by place
    assert _ids(Request("client-2"), calls)[0] != first[0]   # another request, other ids


def test_after_the_first_different_call_every_call_is_new():
    first = _ids(Request("c"), [(WRITE, _write(0)), (ALLOC, _alloc(0)), (ADD, b"index 21")])
    # the retry finds the folio its first attempt inserted (WriteFolio wrote), then needs the next page: the
    # same AllocPages request bytes at the same place, but after another call, so not the first answer
    retry = _ids(Request("c"), [(WRITE, _write(0)), (WRITE, _write(4096)), (ALLOC, _alloc(0)), (ADD, b"index 22")])
    assert retry[0] == first[0]
    assert not set(retry[1:]) & set(first)
    assert _ids(Request("c"), [(WRITE, _write(0)), (ALLOC, _alloc(1))])[1] != first[1]   # another order


def test_ids_stay_within_the_metadata_limit():
    rid = Request("c" * 190).child_id(ALLOC, _alloc(3))
    assert len(rid) <= 200 and rid == Request("c" * 190).child_id(ALLOC, _alloc(3))
