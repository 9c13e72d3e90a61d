"""Differential property test: the Redis XArray against an independent radix-tree model (xarray_model.py).

Random multi-order stores, range stores, erases, splits and try-splits; every operation's returned
old entry (order 0) or error must agree, and at the end the whole tree (every node's shift, first
index, count, nr_values and slots), the node count, and load/get_order at every index the operations
touched (and a sample of the span: all of it at chunk shift 3) must agree. One redis-server, one event loop and one client serve all
examples; each example works under its own prefix and destroys its array. Derandomised: the same
examples every run (a failure prints the falsifying operations).
"""

from __future__ import annotations

import asyncio
import itertools

import pytest
from mmsim.runtime.redis_client import connect as connect_redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmsim.pagecache.xarray import NODE, Sibling, Value, XArray, build_script, decode_entry, index_hex
from mmsim.runtime.errors import InvalidArgument, ResourceExhausted
from xarray_model import Model, Node, Sib

EXAMPLES = 500
ENTRIES = st.sampled_from([Value(1), Value(2), b"a", b"b"])
KEEP = "keep"

# loads and orders of many indices in one round trip
_PROBE = build_script("""
local xa = xa_open(KEYS[1], ARGV[1])
local out = {}
for i = 2, #ARGV do out[#out + 1] = {xa_load(xa, ARGV[i]), xa_get_order(xa, ARGV[i])} end
return out""")

def ops(cs: int):
    span = 1 << (2 * cs + 1)
    idx = st.integers(0, span - 1)
    order = st.integers(0, 2 * cs + 1)
    return st.lists(st.one_of(
        st.tuples(st.just("store"), idx, order, ENTRIES),
        st.tuples(st.just("range"), idx, st.integers(0, span // 4), st.one_of(ENTRIES, st.none())),
        st.tuples(st.just("erase"), idx),
        st.tuples(st.just("split"), idx, order, st.one_of(ENTRIES, st.just(KEEP))),
        st.tuples(st.just("try_split"), idx, order, st.one_of(ENTRIES, st.just(KEEP))),
    ), min_size=1, max_size=6)

def as_redis(entry):
    """A model entry in the form XArray.dump / load report it."""
    if isinstance(entry, Node):
        return NODE
    if isinstance(entry, Sib):
        return Sibling(entry.offset)
    return entry

def model_dump(model: Model) -> list[tuple]:
    return [(shift, index, count, values, {o: as_redis(e) for o, e in slots.items()})
            for shift, index, count, values, slots in model.dump()]

class Harness:
    def __init__(self, url: str):
        self.loop = asyncio.new_event_loop()
        self.client = connect_redis(url)
        self.probe = self.client.register_script(_PROBE)
        self.serial = itertools.count()

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def close(self):
        self.run(self.client.aclose())
        self.loop.close()

    async def probe_indices(self, xa: XArray, indices: list[int]):

        raw = await self.probe(keys=[xa.prefix], args=[xa.chunk_shift, *map(index_hex, indices)])
        return [(decode_entry(e), int(o)) for e, o in raw]

    async def example(self, cs: int, base: int, operations) -> None:
        xa = XArray(self.client, f"mmsim:{{m:diff/{next(self.serial)}}}:xa", chunk_shift=cs)
        model = Model(cs)
        span = 1 << (2 * cs + 1)
        try:
            touched = set()
            for op in operations:
                touched.update(await self.step(xa, model, base, op))
            dump = await xa.dump()
            assert [(n.shift, n.index, n.count, n.nr_values, n.slots) for n in dump.nodes] == model_dump(model)
            # both count nodes as the kernel does; after a split of an entry xa_store_range made of a
            # number of slots that is not a power of two (xas_get_order rounds it up), a node can be
            # counted but no longer reachable, so the count is compared, not the dump's length
            assert dump.node_count == model.nodes
            probe = {i for t in touched for i in (t - 1, t, t + 1)} | set(range(base, base + span, 1 if cs <= 3 else 61))
            probe = sorted(i for i in probe if base <= i < base + span)
            got = await self.probe_indices(xa, probe)
            assert got == [(as_redis(model.load(i)), model.get_order(i)) for i in probe]
        finally:
            await xa.destroy()

    async def step(self, xa: XArray, model: Model, base: int, op) -> list[int]:
        kind, index = op[0], base + op[1]
        if kind == "store":
            _, _, order, entry = op
            old, want = await xa.store_order(index, order, entry), model.store_order(index, order, entry)
            assert order or old == as_redis(want)   # a multi-index store's old entry is "meaningless" (xas_store)
            return [index, (index >> order) << order, ((index >> order) + 1 << order) - 1]
        if kind == "range":
            _, _, length, entry = op
            await xa.store_range(index, index + length, entry)
            model.store_range(index, index + length, entry)
            return [index, index + length]
        if kind == "erase":
            assert await xa.erase(index) == as_redis(model.erase(index))
            return [index]
        _, _, new_order, entry = op
        split = model.split if kind == "split" else model.try_split
        try:
            split(index, new_order, model.load(index) if entry == KEEP else entry)
        except (ValueError, MemoryError) as exc:
            with pytest.raises(ResourceExhausted if isinstance(exc, MemoryError) else InvalidArgument):
                await getattr(xa, kind)(index, new_order, *(() if entry == KEEP else (entry,)))
        else:
            await getattr(xa, kind)(index, new_order, *(() if entry == KEEP else (entry,)))
        return [index]

@pytest.mark.parametrize("cs", [6, 3])
def test_xarray_matches_an_independent_radix_tree_model(redis_proc, cs):
    """Random multi-order stores, range stores, erases, splits against xarray_model.Model (node counts included)."""
    harness = Harness(redis_proc.url)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(base=st.sampled_from([0, 2**33]), operations=ops(cs))
    def check(base, operations):
        harness.run(harness.example(cs, base, operations))

    try:
        check()
    finally:
        harness.close()

async def test_range_store_over_neighbouring_multi_order_entries(aredis):
    """The issue's reproduction: a sibling naming a sibling (xas_descend follows siblings with a while)."""
    xa = XArray(aredis, "mmsim:{m:repro/14}:xa")
    await xa.store_order(0, 2, b"A")
    await xa.store_order(4, 2, b"B")
    await xa.store_range(2, 6, b"C")
    assert [await xa.load(i) for i in range(8)] == [b"C"] * 8
    assert [await xa.get_order(i) for i in range(8)] == [3] * 8
    assert [item async for item in xa.for_each()] == [(0, b"C")]
    await xa.store_range(0, 7, b"D")
    assert [await xa.load(i) for i in range(8)] == [b"D"] * 8
    await xa.set_mark(7, 1)
    assert await xa.get_mark(5, 1) and await xa.find(5, mark=1) == (0, b"D")   # the canonical slot
    assert await xa.erase(6) == b"D"
    assert await xa.empty()
