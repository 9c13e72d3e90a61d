"""The workingset shadow entries (services/pagecache/workingset.lua, mm/workingset.c pack_shadow /
unpack_shadow, workingset_refault's distance test), run in a real redis-server."""

from __future__ import annotations

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from mmsim.pagecache.filemap import FILEMAP_LUA

_BODY = """
local op = ARGV[1]
if op == 'pack' then return WS.pack(tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1') end
if op == 'unpack' then
  local e, n, w = WS.unpack(ARGV[2]); return {e, n, w and 1 or 0}
end
if op == 'evict' then return WS.eviction(tonumber(ARGV[2]), tonumber(ARGV[3]), false) end
if op == 'refault' then
  local a, w = WS.refault(tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]); return {a and 1 or 0, w and 1 or 0}
end
"""


def _run(redis_client, *args):
    return redis_client.eval(FILEMAP_LUA + _BODY, 0, *args)


@seed(10)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(eviction=st.integers(1, (1 << 30) - 1), node=st.integers(0, 63), workingset=st.booleans())
def test_a_shadow_unpacks_to_what_was_packed_and_is_never_the_hole_entry(redis_client, eviction, node, workingset):
    shadow = _run(redis_client, "pack", eviction, node, int(workingset))
    assert shadow != b"v4" and shadow.startswith(b"v")       # v4 is the page cache's zero entry (a hole)
    assert _run(redis_client, "unpack", shadow) == [eviction, node, int(workingset)]


def test_a_refault_within_the_active_list_activates(redis_client):
    redis_client.hset("mmsim:{node:0}:vmstat", "nr_active_file", 8)
    near = _run(redis_client, "evict", 0, 1)
    for _ in range(7):                                          # 7 more evictions: distance 8 <= 8 active pages
        _run(redis_client, "evict", 0, 1)
    assert _run(redis_client, "refault", 0, 1, near) == [1, 0]
    far = _run(redis_client, "evict", 0, 1)
    for _ in range(20):                                         # distance 21 > 8 active pages: not recent
        _run(redis_client, "evict", 0, 1)
    assert _run(redis_client, "refault", 0, 1, far) == [0, 0]
    stats = redis_client.hgetall("mmsim:{node:0}:vmstat")
    assert int(stats[b"workingset_refault_file"]) == 2 and int(stats[b"workingset_activate_file"]) == 1
