"""PageCacheService over real gRPC: every RPC's bad input gets its precise status, changes nothing, and the
service keeps serving."""

from __future__ import annotations

import uuid

import grpc
import pytest

from mmsim import stack
from mmsim.client import REQUEST_ID_KEY, Cluster
from mmsim.runtime import methods
from mmsim.v1 import common_pb2, page_cache_pb2 as pb


@pytest.fixture(scope="module")
def cached(stack_settings):
    """A file with one cached order-2 folio at index 0: (cluster settings, mapping)."""
    with Cluster.connect(stack_settings) as mm:
        f = mm.mkfs("pcbad", block_size=16384).create("/f")
        f.write(0, b"p" * 16384)
        return f.mapping


BAD = [
    ("Fault", lambda m: pb.FaultRequest(mapping=""), "INVALID_ARGUMENT", "mapping"),
    ("Fault", lambda m: pb.FaultRequest(mapping="pcbad/999"), "NOT_FOUND", "no such file"),
    ("Fault", lambda m: pb.FaultRequest(mapping=m, index=1 << 60), "INVALID_ARGUMENT", "largest file index"),
    ("Fault", lambda m: pb.FaultRequest(mapping=m, around_pages=4096), "INVALID_ARGUMENT", "around_pages"),
    ("AddFolio", lambda m: pb.AddFolioRequest(mapping=m, index=4), "INVALID_ARGUMENT", "needs a folio"),
    ("AddFolio", lambda m: pb.AddFolioRequest(mapping=m, index=5, folio=common_pb2.Folio(pfn=64, order=2)),
     "INVALID_ARGUMENT", "not aligned"),
    ("AddFolio", lambda m: pb.AddFolioRequest(mapping=m, index=0, folio=common_pb2.Folio(pfn=64, order=10)),
     "INVALID_ARGUMENT", "MAX_PAGECACHE_ORDER"),
    ("AddFolio", lambda m: pb.AddFolioRequest(mapping=m, index=0, folio=common_pb2.Folio(pfn=64, order=0)),
     "ALREADY_EXISTS", "won the race"),
    ("FindFolio", lambda m: pb.FindFolioRequest(mapping="pcbad/999", index=0), "NOT_FOUND", "no such file pcbad/999"),
    ("DropCaches", lambda m: pb.DropCachesRequest(mode=0), "INVALID_ARGUMENT", "drop_caches takes"),
    ("DropCaches", lambda m: pb.DropCachesRequest(mode=5), "INVALID_ARGUMENT", "drop_caches takes"),
    ("TagFolio", lambda m: pb.TagFolioRequest(mapping=m, index=0, tag=7), "INVALID_ARGUMENT", "tag"),
    ("TagFolio", lambda m: pb.TagFolioRequest(mapping=m, index=50, tag=pb.PAGECACHE_TAG_DIRTY), "NOT_FOUND", "no folio"),
    ("FindTagged", lambda m: pb.FindTaggedRequest(mapping=m, tag=pb.PAGECACHE_TAG_DIRTY, limit=100000),
     "INVALID_ARGUMENT", "limit"),
    ("TruncateRange", lambda m: pb.TruncateRangeRequest(mapping=m, lstart=10, lend=5), "INVALID_ARGUMENT", "before"),
    ("ShareFolios", lambda m: pb.ShareFoliosRequest(src_mapping=m, dst_mapping=m, nr_pages=0), "INVALID_ARGUMENT",
     "nr_pages"),
    ("XaStats", lambda m: pb.XaStatsRequest(mapping="pcbad/12345"), "NOT_FOUND", "no such file"),
    ("XaDump", lambda m: pb.XaDumpRequest(mapping=""), "INVALID_ARGUMENT", "mapping"),
    ("InvalidateMapping", lambda m: pb.InvalidateMappingRequest(mapping="nofs/1"), "NOT_FOUND", "no such file"),
]


@pytest.mark.parametrize("method, build, code, words", BAD, ids=[f"{b[0]}-{b[2]}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_is_refused_precisely_and_changes_nothing(stack_settings, cached, method, build, code, words):
    with Cluster.connect(stack_settings) as mm:
        before = mm.call("pagecache", "XaStats", pb.XaStatsRequest(mapping=cached))
        with pytest.raises(grpc.RpcError) as err:
            mm.call("pagecache", method, build(cached))
        assert err.value.code().name == code, err.value.details()
        assert words in err.value.details()
        assert mm.call("pagecache", "XaStats", pb.XaStatsRequest(mapping=cached)) == before
        assert stack.health(stack_settings.addrs["pagecache"]) == "SERVING"


def test_find_folio_tells_an_empty_index_from_a_missing_file(stack_settings, cached):
    """filemap_get_entry's NULL is an answer (found false), not an error; NOT_FOUND is for a missing file."""
    with Cluster.connect(stack_settings) as mm:
        empty = mm.call("pagecache", "FindFolio", pb.FindFolioRequest(mapping=cached, index=100))
        assert not empty.found and not empty.HasField("folio") and not empty.zero_entry
        hit = mm.call("pagecache", "FindFolio", pb.FindFolioRequest(mapping=cached, index=3))
        assert hit.found and hit.HasField("folio") and hit.folio.order == 2 and hit.folio_index == 0


def test_a_retried_drop_caches_counts_once(stack_settings):
    """Each write to drop_caches is one drop_slab/drop_pagecache event: a retry (the same request id, as
    gRPC's retry sends it) gets the stored reply instead of counting again, so the RPC is not IDEMPOTENT."""
    with Cluster.connect(stack_settings) as mm:
        before = mm.vmstat()["drop_slab"]
        metadata = [(REQUEST_ID_KEY, uuid.uuid4().hex)]
        first = mm.stubs["pagecache"].DropCaches(pb.DropCachesRequest(mode=2), metadata=metadata, timeout=30)
        again = mm.stubs["pagecache"].DropCaches(pb.DropCachesRequest(mode=2), metadata=metadata, timeout=30)
        assert first == again and first.drop_slab == before + 1 == mm.vmstat()["drop_slab"]
        assert methods.full_name("pagecache", "DropCaches") not in methods.IDEMPOTENT
