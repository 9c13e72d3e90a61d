"""Request ids of a parent's calls to its peers (mmsim.runtime.idempotency.Request.child_id): a retried parent
that sends the same request at the same point gets the first attempt's answer; one that sends a different
request there (the state moved on between the attempts) must not be told what the earlier request got. A chaos
run found this: a retried Write asked AllocPages for an order-1 folio and was answered with the order-0 folio
its dead first attempt had been given, then wrote two pages of bytes into that one page's folio."""

from __future__ import annotations

from mmsim.runtime.idempotency import Request
from mmsim.v1 import common_pb2, page_allocator_pb2

ALLOC = "/mmsim.v1.PageAllocatorService/AllocPages"
ADD = "/mmsim.v1.PageCacheService/AddFolio"


def _alloc(order: int) -> bytes:
    return page_allocator_pb2.AllocPagesRequest(order=order, gfp=common_pb2.GfpMask(flags=[common_pb2.GFP_FLAG_COMP]),
                                                node=-1).SerializeToString(deterministic=True)


def test_a_retried_parent_sending_the_same_requests_gets_the_same_ids():
    first, retry = Request("client-1"), Request("client-1")
    ids = [first.child_id(ALLOC, _alloc(1)), first.child_id(ALLOC, _alloc(0)), first.child_id(ADD, b"x")]
    assert [retry.child_id(ALLOC, _alloc(1)), retry.child_id(ALLOC, _alloc(0)), retry.child_id(ADD, b"x")] == ids
    assert len(set(ids)) == 3                                   # each call its own id


def test_a_different_request_at_the_same_point_is_a_new_request():
    first, retry = Request("client-1"), Request("client-1")
    assert first.child_id(ALLOC, _alloc(0)) != retry.child_id(ALLOC, _alloc(1))
    # the second calls are the same request at the same place: the retry replays the first attempt's answer
    assert first.child_id(ALLOC, _alloc(0)) == retry.child_id(ALLOC, _alloc(0))


def test_ids_stay_within_the_metadata_limit():
    long = Request("c" * 190)
    rid = long.child_id(ALLOC, _alloc(3))
    assert len(rid) <= 200 and rid == Request("c" * 190).child_id(ALLOC, _alloc(3))
