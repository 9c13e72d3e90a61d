"""Populate: order choice, fallback vs min-order, zero entries, races, EOF, constant cost per folio."""

from __future__ import annotations

import asyncio

import pytest

from mmsim.filesystem import fileio, inode, populate, superblock, writeback
from mmsim.runtime import keys, redis_client, scope
from mmsim.runtime.vmfault import VmFault

from test_fs_fakes import make_env


async def _file(env, name, bs, profile, size=0, max_order=None, data=None):
    await superblock.mkfs(env.redis, name, bs, profile, max_order, "lsfmm2018")
    ino = await inode.create(env.redis, name, "/f")
    if data is not None:
        for off in range(0, len(data), 1 << 20):
            await fileio.write(env, ino.mapping, off, data[off:off + (1 << 20)])
        await writeback.fsync(env, ino.mapping)
    elif size:
        await env.redis.hset(ino.key("inode"), "i_size", size)
    return ino.mapping


async def _choose(aredis, mapping="x/1", index=0, **fields):
    """populate_read.lua's choice for a miss at ``index`` of an inode with ``fields``: (order, start, ra_order).
    It also leaves the readahead state (ra_next, ra_order) in the inode, as page_cache_ra_order does."""
    base = dict(i_size=64 << 20, block_size=4096, min_order=0, max_order=9, ra_next=-1, ra_order=0)
    await aredis.hset(keys.mapping(mapping, "inode"), mapping={**base, **fields})
    step, values = populate.read_step(mapping, index)
    rd = populate.ReadStep.parse(await step.alone(aredis, inode=keys.mapping(mapping, "inode"), **values))
    return rd.order, rd.start, rd.ra_order


async def test_readahead_order_ramps_on_sequential_misses_and_stays_aligned(aredis):
    seen = []
    index = 0
    await aredis.delete(keys.mapping("x/1", "inode"))
    order, start, _ = await _choose(aredis, index=0)
    for _ in range(14):
        assert start == index and start % (1 << order) == 0
        seen.append(order)
        index = start + (1 << order)
        step, values = populate.read_step("x/1", index)   # the state the last miss left
        rd = populate.ReadStep.parse(await step.alone(aredis, inode=keys.mapping("x/1", "inode"), **values))
        order, start = rd.order, rd.start
    assert seen[:10] == [0, 0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert seen[10:] == [9, 9, 9, 9]


async def test_random_miss_uses_block_order_and_eof_caps_the_order(aredis):
    # block holding index 2, never below min order
    assert await _choose(aredis, "x/2", 2, block_size=16384, min_order=2, i_size=3 * 4096 + 1, ra_next=40,
                         ra_order=6) == (2, 0, 2)
    order, start, _ = await _choose(aredis, "x/3", 0, i_size=5 * 4096, ra_next=0, ra_order=7)   # sequential, EOF at 5
    assert start == 0 and order == 2


@pytest.mark.parametrize("bs", [4096, 16384, 65536])
async def test_populate_fills_folio_from_blocks_zero_tail_and_sigbus(aredis, bs):
    env, ports = make_env(aredis)
    payload = bytes((i * 7 + 3) % 251 for i in range(bs + 5000))
    m = await _file(env, "a", bs, "linux-6.12", data=payload)
    await ports.drop_cache()   # drop the cache: faults must read the blocks
    for idx in range(-(-len(payload) // 4096)):
        page = await ports.fault_read(env, m, idx)
        want = payload[idx * 4096:(idx + 1) * 4096].ljust(4096, b"\0")
        assert page == want, idx
    eof_pages = -(-len(payload) // 4096)
    res = await populate.populate(env, m, eof_pages)
    assert res.vm_fault == VmFault.SIGBUS and not res.attempts


async def test_fallback_policy_goes_below_the_block_under_fragmentation(aredis):
    env, ports = make_env(aredis)
    m = await _file(env, "fb", 65536, "lsfmm2018", data=b"x" * 65536 * 2)
    await ports.drop_cache()
    ports.fail_above = 1
    res = await populate.populate(env, m, 5)
    assert [(a.order, a.ok) for a in res.attempts] == [(4, False), (3, False), (2, False), (1, True)]
    assert res.folio.order == 1 and res.folio_index == 4 and res.policy == "fallback"
    assert (await ports.fault_read(env, m, 5)) == b"x" * 4096
    vm = await aredis.hgetall(keys.node(0, "mthp_stats"))
    assert vm[b"64kB:file_fallback"] == b"1" and vm[b"8kB:file_alloc"] == b"1"


async def test_min_order_policy_retries_then_ooms(aredis):
    env, ports = make_env(aredis)
    m = await _file(env, "mo", 65536, "linux-6.12", data=b"y" * 65536)
    await ports.drop_cache()
    ports.fail_above = 1
    live_before = dict(ports.live)
    res = await populate.populate(env, m, 5)
    assert res.vm_fault == VmFault.OOM and res.folio is None
    assert [(a.order, a.ok) for a in res.attempts] == [(4, False), (4, False)]
    assert ports.live == live_before and not ports.cache.get(m)


async def test_without_fragmentation_large_folios_are_used(aredis):
    env, ports = make_env(aredis)
    m = await _file(env, "big", 4096, "lsfmm2018", data=b"z" * (4 << 20))
    await ports.drop_cache()
    orders, idx = [], 0
    while idx < 1024:
        res = await populate.populate(env, m, idx)
        orders.append(res.folio.order)
        idx = res.folio_index + (1 << res.folio.order)
    assert 9 in orders and all(a.ok for a in res.attempts)
    vm = await aredis.hgetall(keys.node(0, "vmstat"))
    assert int(vm[b"thp_file_alloc"]) >= 1 and b"thp_file_fallback" not in vm


async def test_pmd_order_fallback_is_counted(aredis):
    env, ports = make_env(aredis)
    m = await _file(env, "pmd", 4096, "lsfmm2018", data=b"z" * (4 << 20))
    await ports.drop_cache()
    await aredis.hset(keys.mapping(m, "inode"), mapping={"ra_next": 512, "ra_order": 7})
    ports.fail_above = 8
    res = await populate.populate(env, m, 512)
    assert [(a.order, a.ok) for a in res.attempts] == [(9, False), (8, True)]
    vm = await aredis.hgetall(keys.node(0, "vmstat"))
    assert vm[b"thp_file_fallback"] == b"1"


async def test_hole_becomes_zero_entry_with_lsfmm2018_and_a_page_with_linux612(aredis):
    env, ports = make_env(aredis)
    m = await _file(env, "h1", 16384, "lsfmm2018", size=1 << 20)
    res = await populate.populate(env, m, 9)
    assert res.zero_entry and res.folio is None and not res.attempts and res.zero_order == 2
    wres = await populate.populate(env, m, 9, write=True)   # a write fault needs a real folio
    assert wres.folio is not None and not wres.zero_entry
    m2 = await _file(env, "h2", 16384, "linux-6.12", size=1 << 20)
    res2 = await populate.populate(env, m2, 9)
    assert res2.folio is not None and res2.folio.order == 2 and not res2.zero_entry
    assert await ports.fault_read(env, m2, 9) == bytes(4096)


async def test_race_loser_frees_its_folio_and_returns_the_winner(aredis):
    env, ports = make_env(aredis)
    m = await _file(env, "race", 16384, "linux-6.12", data=b"r" * 65536)
    await ports.drop_cache()
    results = await asyncio.gather(*[populate.populate(env, m, 1) for _ in range(8)])
    winners = {(r.folio.pfn, r.folio_index) for r in results}
    assert len(winners) == 1
    assert sum(not r.raced for r in results) == 1
    assert set(ports.live) == ports.cached_pfns()       # no leaked folio


async def test_populate_runs_in_nofs_scope_and_the_allocator_sees_it(aredis):
    env, ports = make_env(aredis)
    m = await _file(env, "scope", 4096, "linux-6.12", data=b"s" * 4096)
    await ports.drop_cache()
    seen = []
    orig = ports.alloc_pages

    async def spy(*a, **k):
        seen.append(scope.current())
        return await orig(*a, **k)
    ports.alloc_pages = spy
    res = await populate.populate(env, m, 0)
    assert seen == [scope.Memalloc.PF_MEMALLOC_NOFS] and res.memalloc_scope == "nofs"
    assert scope.current() == scope.Memalloc.NONE


@pytest.mark.parametrize("bs", [4096, 65536])
async def test_round_trips_per_populate_are_constant_whatever_the_order(redis_proc, aredis, bs):
    counting = redis_client.connect(redis_proc.url)
    env, ports = make_env(counting)
    m = await _file(env, f"rt{bs}", bs, "lsfmm2018", data=b"q" * (4 << 20))
    await ports.drop_cache()
    per = {}
    idx = 0
    while idx < 1024:
        ports.calls.clear()
        trips = redis_client.start_counting()
        res = await populate.populate(env, m, idx)
        calls = tuple(c.split(":")[0] for c in ports.calls)
        per.setdefault(res.folio.order, set()).add((trips.count, calls))
        idx = res.folio_index + (1 << res.folio.order)
    assert len(per) >= 4 if bs == 4096 else len(per) >= 2   # several orders were populated
    # the invalidate_lock grant with the inode, extents, readahead state and blocks (one step); the fake page
    # cache's insert stores the contents and counts (1); the release (the real page cache releases the lock in
    # the insert's step: test_fault_counts counts the real stack's)
    assert {v for s in per.values() for v in s} == {(3, ("alloc", "add"))}, per
    await counting.aclose()
