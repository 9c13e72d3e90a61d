"""lib/test_xarray.c ported to the Redis XArray (semantics and cases, scaled down where the kernel
loops millions of times; each docstring names the kernel test function)."""

from __future__ import annotations

import asyncio

import pytest

from mmsim.pagecache.xarray import (
    NODE,
    ULONG_MAX,
    ZERO,
    Sibling,
    Value,
    XArray,
    build_script,
    index_hex,
)
from mmsim.runtime.errors import AlreadyExists, InvalidArgument, ResourceExhausted

LONG_MAX = 2**63 - 1


def mk(index: int) -> Value:
    """xa_mk_index: the value the kernel tests store at an index."""
    return Value(index & LONG_MAX)


@pytest.fixture()
def xa(aredis):
    return XArray(aredis, "mmsim:{m:test/1}:xa")


async def loads(xa, indices):
    indices, out = list(indices), []
    for k in range(0, len(indices), 32):
        out += await asyncio.gather(*(xa.load(i) for i in indices[k:k + 32]))
    return out


async def erase_index(xa, index):
    """xa_erase_index: erasing returns mk(index) and leaves NULL behind."""
    assert await xa.erase(index) == mk(index)
    assert await xa.load(index) is None


async def entries(xa, **kw):
    return [item async for item in xa.for_each(**kw)]


def covering(dump, index):
    """The deepest node whose range covers index (where xas_load ends)."""
    size = 1 << dump.chunk_shift
    best = None
    for node in dump.nodes:
        if node.index <= index <= node.index + (size << node.shift) - 1:
            if best is None or node.shift < best.shift:
                best = node
    return best


async def test_check_xa_err(xa):
    """check_xa_err: ordinary stores and erases succeed; bad arguments are InvalidArgument."""
    assert await xa.store(0, mk(0)) is None
    assert await xa.erase(0) == mk(0)
    assert await xa.store(1, mk(1)) is None
    assert await xa.store(1, Value(0)) == mk(1)
    assert await xa.erase(1) == Value(0)
    for bad in (lambda: xa.store(0, "str"), lambda: xa.store(0, 5), lambda: xa.store(-1, b"x"),
                lambda: xa.store(2**64, b"x"), lambda: xa.set_mark(0, 3), lambda: xa.get_mark(0, -1),
                lambda: xa.store_range(5, 4, b"x"), lambda: xa.store_order(0, 64, b"x")):
        with pytest.raises(InvalidArgument) as err:
            await bad()
        assert err.value.errno == "EINVAL"
    with pytest.raises(InvalidArgument):
        Value(-1)
    with pytest.raises(InvalidArgument):
        Value(LONG_MAX + 1)
    assert await xa.empty()


async def test_check_xa_load(xa):
    """check_xa_load (1024 indices scaled to 70, crossing a node boundary)."""
    n = 70
    for i in range(n):
        got = await loads(xa, range(n))
        assert got == [mk(j) if j < i else None for j in range(n)]
        assert await xa.store(i, mk(i)) is None
    for i in range(n):
        got = await loads(xa, range(n))
        assert got == [mk(j) if j >= i else None for j in range(n)]
        await erase_index(xa, i)
    assert await xa.empty()


@pytest.mark.parametrize("index", [0, 4, 60, 64, 4096])
async def test_check_xa_mark_1(xa, index):
    """check_xa_mark_1: marks need an entry; multi-index stores take the union of marks."""
    assert not await xa.get_mark(index, 0)
    await xa.set_mark(index, 0)
    assert not await xa.get_mark(index, 0)
    assert await xa.store(index, mk(index)) is None
    assert not await xa.get_mark(index, 0)
    await xa.set_mark(index, 0)
    assert await xa.get_mark(index, 0)
    assert not await xa.get_mark(index + 1, 0)
    assert not await xa.get_mark(index, 1)
    await erase_index(xa, index)
    assert await xa.empty()
    assert not await xa.get_mark(index, 0)
    await xa.set_mark(index, 0)
    assert not await xa.get_mark(index, 0)
    for order in range(2, 8):
        base = index & ~((1 << order) - 1)
        nxt = base + (1 << order)
        assert await xa.store(index + 1, mk(index + 1)) is None
        await xa.set_mark(index + 1, 0)
        assert await xa.store(index + 2, mk(index + 2)) is None
        await xa.set_mark(index + 2, 2)
        assert await xa.store(nxt, mk(nxt)) is None
        await xa.store_order(base, order, mk(index))
        for i in (base, base + 1, nxt - 1):
            assert await xa.get_mark(i, 0) and not await xa.get_mark(i, 1) and await xa.get_mark(i, 2)
            assert len(await entries(xa, start=i)) == 2
            assert len(await entries(xa, mark=0)) == 1
        for m in range(3):
            assert not await xa.get_mark(nxt, m)
        assert await xa.erase(index) == mk(index)
        await erase_index(xa, nxt)
        assert await xa.empty()


async def test_check_xa_mark_2(xa):
    """check_xa_mark_2: clearing marks (xas_init_marks) and counting 1000 marked entries."""
    await xa.store(0, mk(0))
    await xa.set_mark(0, 0)
    await xa.clear_mark(0, 0)
    assert not await xa.get_mark(0, 0)
    for index in range(3500, 4500):
        await xa.store(index, mk(index))
        await xa.set_mark(index, 0)
    assert len(await entries(xa, mark=0)) == 1000
    await xa.destroy()
    assert await xa.empty()


async def test_check_xa_mark_3(xa):
    """check_xa_mark_3: a marked multi-index entry is found once from inside it."""
    await xa.store_order(0x40, 2, mk(0x40))
    await xa.set_mark(0x41, 0)
    found = await entries(xa, start=0x41, mark=0)
    assert [e for _, e in found] == [mk(0x40)]
    assert found[0][0] == 0x40   # xas_find_marked moves back to the canonical slot


async def test_check_xa_shrink(xa):
    """check_xa_shrink: erasing shrinks the tree back to the head; ULONG_MAX grows and shrinks it."""
    assert await xa.store(0, mk(0)) is None
    assert await xa.store(1, mk(1)) is None
    assert await xa.nodes() == 1
    assert await xa.erase(1) == mk(1)
    assert await xa.nodes() == 0 and await xa.height() == 0
    assert (await xa.dump()).head == mk(0)
    await erase_index(xa, 0)
    assert await xa.empty()
    for order in range(15):
        top = (1 << order) - 1
        await xa.store_order(0, order, Value(0))
        assert await xa.load(top) == Value(0)
        assert await xa.load(top + 1) is None
        before = (await xa.dump()).root_shift, await xa.nodes()
        assert await xa.store(ULONG_MAX, mk(ULONG_MAX)) is None
        assert (await xa.dump()).root_shift == 60
        assert await xa.load(top + 1) is None
        await erase_index(xa, ULONG_MAX)
        assert ((await xa.dump()).root_shift, await xa.nodes()) == before
        assert await xa.erase(0) == Value(0)
        assert await xa.empty()


async def test_check_insert(xa):
    """check_insert: insert at many indices up to ~0UL; a second insert is busy."""
    indices = list(range(70)) + [v for i in range(10, 64) for v in (1 << i, (1 << i) - 1)] + [ULONG_MAX]
    for i in indices:
        await xa.insert(i, mk(i))
        with pytest.raises(AlreadyExists):
            await xa.insert(i, mk(i))
        assert await loads(xa, [(i - 1) % 2**64, (i + 1) % 2**64]) == [None, None]
        await erase_index(xa, i)
    assert await xa.empty()


async def test_check_cmpxchg(xa):
    """check_cmpxchg."""
    five, six, lots = Value(5), Value(6), Value(12345678)
    assert await xa.store(12345678, mk(12345678)) is None
    with pytest.raises(AlreadyExists):
        await xa.insert(12345678, b"xa")
    assert await xa.cmpxchg(12345678, six, five) == lots
    assert await xa.cmpxchg(12345678, lots, five) == lots
    assert await xa.cmpxchg(12345678, five, lots) == five
    assert await xa.cmpxchg(5, five, None) is None
    assert await xa.cmpxchg(5, None, five) is None
    with pytest.raises(AlreadyExists):
        await xa.insert(5, five)
    assert await xa.cmpxchg(5, five, None) == five
    await xa.insert(5, five)
    await erase_index(xa, 12345678)
    await erase_index(xa, 5)
    assert await xa.empty()


async def test_check_cmpxchg_order(xa):
    """check_cmpxchg_order: cmpxchg on a multi-index entry replaces/erases all of it."""
    five, order = Value(5), 3
    assert await xa.store_order(0, order, five) is None
    assert await xa.get_order(5) == order
    for i in range(1 << order):
        assert await xa.load(i) == five and await xa.get_order(i) == order
    assert await xa.load(1 << order) is None
    assert await xa.store_order(1 << order, order, five) is None
    assert await xa.cmpxchg(0, five, None) == five
    assert await xa.get_order(5) == 0
    for i in range(1 << order):
        assert await xa.load(i) is None and await xa.get_order(i) == 0
    for i in range(1 << order, 2 << order):
        assert await xa.load(i) == five and await xa.get_order(i) == order
    await xa.store_order(0, 63, None)
    assert await xa.empty()


async def test_check_reserve(xa):
    """check_reserve (the XA_FLAGS_ALLOC part is not modelled)."""
    await xa.reserve(12345678)
    assert not await xa.empty()
    assert await xa.load(12345678) is None
    await xa.release(12345678)
    assert await xa.empty()
    # releasing a used entry does nothing
    await xa.reserve(12345678)
    assert await xa.store(12345678, mk(12345678)) is None
    await xa.release(12345678)
    await erase_index(xa, 12345678)
    assert await xa.empty()
    # cmpxchg sees a reserved entry as ZERO
    await xa.reserve(12345678)
    assert await xa.cmpxchg(12345678, ZERO, mk(12345678)) is None
    await xa.release(12345678)
    await erase_index(xa, 12345678)
    # insert treats it as busy
    await xa.reserve(12345678)
    with pytest.raises(AlreadyExists):
        await xa.insert(12345678, mk(12345678))
    assert not await xa.empty()
    assert await xa.erase(12345678) is None
    assert await xa.empty()
    # iteration skips a reserved entry
    await xa.store(5, mk(5))
    await xa.reserve(6)
    await xa.store(7, mk(7))
    assert [i for i, _ in await entries(xa)] == [5, 7]
    assert await xa.find(6) == (7, mk(7))
    await xa.destroy()
    assert await xa.empty()


async def test_check_align_2(xa):
    """check_align_2: object entries of any bytes; storing into a reserved slot returns NULL."""
    names = [b"Motorola 68000"[i:] for i in range(8)] + [b"", b"\x00{}\xff"]
    for name in names:
        assert await xa.store(0, name) is None
        assert await xa.load(0) == name
        await xa.erase(0)
    for name in names:
        await xa.reserve(0)
        assert await xa.store(0, name) is None
        await xa.erase(0)
    assert await xa.empty()


async def test_check_multi_store_counts(xa):
    """check_multi_store: node count/nr_values of multi-index entries and multi-index erases."""
    await xa.store_order(0, 1, Value(0))
    assert await loads(xa, [0, 1, 2]) == [Value(0), Value(0), None]
    root = (await xa.dump()).nodes[0]
    assert (root.count, root.nr_values) == (2, 2)
    await xa.store(3, b"xa")
    assert await loads(xa, [0, 1, 2]) == [Value(0), Value(0), None]
    root = (await xa.dump()).nodes[0]
    assert (root.count, root.nr_values) == (3, 2)
    await xa.store_order(0, 2, Value(1))
    assert await loads(xa, [0, 1, 2, 3, 4]) == [Value(1)] * 4 + [None]
    root = (await xa.dump()).nodes[0]
    assert (root.count, root.nr_values) == (4, 4)
    await xa.store_order(0, 63, None)
    assert await xa.empty()
    await xa.store(1, mk(1))
    await xa.store(2, mk(2))
    await xa.store_order(0, 2, None)
    assert await xa.empty()


async def test_check_multi_store_orders(xa):
    """check_multi_store: order i then order j at 0; loads at 2**k-1 (orders sampled from 0..59)."""
    orders = [0, 1, 5, 6, 7, 12, 13, 30, 59]
    for i in orders:
        for j in orders:
            await xa.store_order(0, i, mk(i))
            await xa.store_order(0, j, mk(j))
            got = await loads(xa, [(1 << k) - 1 for k in range(60)])
            assert got == [None if i < k and j < k else mk(j) for k in range(60)]
            await xa.erase(0)
            assert await xa.empty()


@pytest.mark.parametrize("order", range(20))
async def test_check_multi_store_1(xa, order):
    """check_multi_store_1 at 200, 0 and 2**i+1; storing at any index replaces the whole entry."""
    for index in (200, 0, (1 << order) + 1):
        lo = index & ~((1 << order) - 1)
        hi = lo + (1 << order)
        await xa.store_order(lo, order, mk(index))
        assert await loads(xa, [lo, hi - 1, hi, (lo - 1) % 2**64]) == [mk(index), mk(index), None, None]
        assert await xa.store(index, mk(lo)) == mk(index)
        assert await loads(xa, [lo, hi - 1, hi, (lo - 1) % 2**64]) == [mk(lo), mk(lo), None, None]
        await erase_index(xa, lo)
        assert await xa.empty()


async def test_check_multi_store_2_3(xa):
    """check_multi_store_2 (4095, order 9) and check_multi_store_3 (iteration sees one entry)."""
    await xa.store_order(3584, 9, Value(0))
    assert await xa.store(4095, Value(1)) == Value(0)
    assert await xa.erase(4095) == Value(1)
    assert await xa.empty()
    for i in range(1, 20):
        for index in (0, 1 << i):
            await xa.store_order(index, i, mk(index))
            assert await entries(xa) == [(index, mk(index))]
            assert await entries(xa, start=index + 1) == [(index + 1, mk(index))]
            await xa.destroy()


async def test_nodes_order9_vs_512(xa, aredis):
    """check_multi_store / check_account: one order-9 entry needs 1 node, 512 order-0 need 9."""
    await xa.store_order(0, 9, Value(7))
    root = (await xa.dump()).nodes[0]
    assert await xa.nodes() == 1 and (root.count, root.nr_values) == (8, 8)
    assert root.slots[0] == Value(7) and root.slots[1] == Sibling(0) and 8 not in root.slots
    one = await xa.memory_bytes()
    await xa.destroy()
    assert await aredis.keys("*") == []
    for i in range(512):
        await xa.store(i, Value(i))
    assert await xa.nodes() == 9 and await xa.height() == 2
    assert await xa.memory_bytes() > one


async def test_check_account(xa):
    """check_account: pointer / value / sibling accounting of count and nr_values."""
    for order in range(1, 12):
        await xa.store_order(0, order, b"xa")
        node = covering(await xa.dump(), 1 << order)
        assert 0 < node.count <= 1 << order and node.nr_values == 0
        await xa.store_order(1 << order, order, mk(1 << order))
        node = covering(await xa.dump(), 1 << order)
        assert node.count == node.nr_values * 2
        await xa.erase(1 << order)
        assert covering(await xa.dump(), 1 << order).nr_values == 0
        await xa.erase(0)
        assert await xa.empty()


@pytest.mark.parametrize("order", range(2, 10))
async def test_check_multi_find_1(xa, order):
    """check_multi_find_1."""
    multi, nxt = 3 << order, 4 << order
    await xa.store_order(multi, order, Value(multi))
    assert await xa.store(nxt, mk(nxt)) is None
    assert await xa.store(nxt + 1, mk(nxt + 1)) is None
    assert await xa.find(0) == (multi, Value(multi))
    index, entry = await xa.find(multi + 1)
    assert entry == Value(multi) and multi <= index < nxt
    assert await xa.find_after(index) == (nxt, mk(nxt))
    assert await xa.find_after(nxt, max=nxt) is None
    assert await xa.erase(multi) == Value(multi)
    await erase_index(xa, nxt)
    await erase_index(xa, nxt + 1)
    assert await xa.empty()


async def test_check_multi_find_2(xa):
    """check_multi_find_2 (orders below 6): erasing while iterating."""
    for i in range(6):
        index = 1 << i
        for j in range(index):
            await xa.store(index - 1, mk(index - 1))
            await xa.store_order(index, i, mk(index))
            async for _ in xa.for_each(start=j + index):
                await erase_index(xa, index)
            await erase_index(xa, index - 1)
            assert await xa.empty()


async def test_check_multi_find_3(xa):
    """check_multi_find_3: xa_find_after from inside a multi-index entry finds nothing."""
    for order in range(5, 64):
        await xa.store_order(0, order - 4, mk(0))
        assert await xa.find_after(1 << (order - 5)) is None
        await xa.erase(0)
        assert await xa.empty()


async def test_check_find_1(xa):
    """check_find_1 (pairs below 12 instead of 100), present and marked."""
    n = 12
    for i in range(n):
        assert await xa.store(i, mk(i)) is None
        await xa.set_mark(i, 0)
        for j in range(i):
            assert await xa.store(j, mk(j)) is None
            await xa.set_mark(j, 0)
            for mark in (None, 0):
                got = await asyncio.gather(*(xa.find(k, mark=mark) for k in range(n)))
                for k, found in enumerate(got):
                    want = j if k <= j else i if k <= i else None
                    assert (found[0] if found else None) == want
            await erase_index(xa, j)
            assert not await xa.get_mark(j, 0) and await xa.get_mark(i, 0)
        await erase_index(xa, i)
        assert not await xa.get_mark(i, 0)
    assert await xa.empty()


async def test_check_find_2(xa):
    """check_find_2: for_each returns every entry in order."""
    assert await entries(xa) == []
    for i in range(100):
        await xa.store(i, mk(i))
        assert await entries(xa) == [(j, mk(j)) for j in range(i + 1)]
    assert len(await entries(xa, batch=7)) == 100
    await xa.destroy()


async def test_check_find_3(xa):
    """check_find_3: a marked search whose start is beyond max finds nothing."""
    for i in range(10):
        for j in range(10):
            for k in range(j):
                assert await entries(xa, start=j, max=k, mark=0) == []
        await xa.store(i, mk(i))
        await xa.set_mark(i, 0)
    assert len(await entries(xa, mark=0)) == 10
    await xa.destroy()


async def test_check_find_4(xa):
    """check_find_4: find_after reaches ULONG_MAX and stops there."""
    await xa.store(ULONG_MAX, mk(ULONG_MAX))
    assert await xa.find_after(0) == (ULONG_MAX, mk(ULONG_MAX))
    assert await xa.find_after(ULONG_MAX) is None
    await erase_index(xa, ULONG_MAX)


async def find_entry(xa, item):
    """xa_find_entry (shmem find_swap_entry): the index where item is, or -1."""
    async for index, entry in xa.for_each(batch=4):
        if entry == item:
            return index
    return -1


async def test_check_find_entry(xa):
    """check_find_entry (orders 0, 1, 5, 6, 7, 12; offsets 0 and 1<<order)."""
    for order in (0, 1, 5, 6, 7, 12):
        for offset in (0, 1 << order):
            for index in range(offset, offset + (32 << order), 1 << order):
                await xa.store_order(index, order, mk(index))
                assert await xa.load(index) == mk(index)
                assert await find_entry(xa, mk(index)) == index
            assert await find_entry(xa, b"xa") == -1
            await xa.destroy()
    assert await find_entry(xa, b"xa") == -1
    await xa.store(ULONG_MAX, mk(ULONG_MAX))
    assert await find_entry(xa, b"xa") == -1
    assert await find_entry(xa, mk(ULONG_MAX)) == ULONG_MAX
    await erase_index(xa, ULONG_MAX)
    assert await xa.empty()


async def test_check_pause(xa):
    """check_pause: entries of every order 0..63 up to 2**63, iterated in order, also in batches."""
    index = 1
    for order in range(64):
        assert await xa.store_order(index, order, mk(index)) is None
        index += 1 << order
    for batch in (256, 1):
        found = await entries(xa, batch=batch)
        assert [e for _, e in found] == [mk(1 << c) for c in range(64)]
    await xa.destroy()
    index = 0
    for order in range(63, -1, -1):
        assert await xa.store_order(index, order, mk(index)) is None
        index += 1 << order
    want, index = [], 0
    for c in range(64):
        want.append(mk(index))
        index += 1 << (63 - c)
    assert [e for _, e in await entries(xa)] == want
    assert [e for _, e in await entries(xa, start=1, batch=5)] == want
    await xa.destroy()
    assert await xa.empty()


async def test_check_store_range(xa):
    """check_store_range (i, j sampled below 128) at the kernel's six bases."""
    picks = [0, 1, 2, 3, 5, 63, 64, 65, 127]
    for base in (0, 128, 4095, 4096, 123456, 1 << 24):
        for i in picks:
            for j in picks:
                if j < i:
                    continue
                first, last = base + i, base + j
                await xa.store_range(first, last, mk(first))
                got = await loads(xa, [first, last, first - 1 if first else ULONG_MAX, last + 1])
                assert got == [mk(first), mk(first), None, None]
                await xa.store_range(first, last, None)
                assert await xa.empty()


async def test_store_range_fewest_entries(xa):
    """xa_store_range covers a range with few aligned (xas_set_range) entries."""
    await xa.store_range(0, 4095, b"r")
    assert await xa.nodes() == 1 and len(await entries(xa)) == 1
    await xa.destroy()
    await xa.store_range(3, 200, b"r")
    found = await entries(xa)
    assert found[0][0] == 3 and len(found) < 10
    assert all(e == b"r" for e in await loads(xa, range(3, 201)))
    assert await loads(xa, [2, 201]) == [None, None]
    with pytest.raises(InvalidArgument):
        await xa.store_range(0, ULONG_MAX, b"all")


@pytest.mark.parametrize("cs", [6, 2])
async def test_check_split(aredis, cs):
    """check_split / check_split_1: xas_split into new_order entries; marks copied to each."""
    xa = XArray(aredis, f"mmsim:{{m:split/{cs}}}:xa", chunk_shift=cs)
    orders = range(1, 2 * cs) if cs == 2 else (1, 2, 5, 6, 7, 8, 11)
    for order in orders:
        for new_order in sorted({0, 1, order - 1, order - 2} & set(range(order))):
            for index in (0, 1 << order, 3 << order):
                await xa.store_order(index, order, b"xa")
                await xa.set_mark(index, 1)
                await xa.split(index, new_order)
                parts = 1 << (order - new_order)
                found = await entries(xa, mark=1)
                assert len(found) == parts and {e for _, e in found} == {b"xa"}
                assert [i for i, _ in found] == [index + (k << new_order) for k in range(parts)]
                assert await xa.get_order(index + (1 << order) - 1) == new_order
                if parts <= 64:
                    for k in range(parts):
                        start = index + (k << new_order)
                        await xa.store(start, mk(start))
                    got = await loads(xa, range(index, index + (1 << order)))
                    assert got == [mk(index + (i & ~((1 << new_order) - 1))) for i in range(1 << order)]
                await xa.set_mark(index, 0)
                assert await xa.get_mark(index, 0)
                await xa.destroy()
                assert await xa.empty()


async def test_split_node_count_and_errors(xa):
    """xas_split of an order-9 entry to order 0 builds the same 9 nodes as 512 stores."""
    await xa.store_order(0, 9, Value(1))
    await xa.split(0, 0)
    assert await xa.nodes() == 9
    leaf = covering(await xa.dump(), 511)
    assert (leaf.count, leaf.nr_values) == (64, 64)
    await xa.destroy()
    await xa.store_order(0, 12, b"big")
    with pytest.raises(ResourceExhausted) as err:
        await xa.split(0, 0)          # two levels down: xas_split_alloc fails with ENOMEM
    assert err.value.errno == "ENOMEM"
    with pytest.raises(InvalidArgument):
        await xa.split(0, 12)
    with pytest.raises(InvalidArgument):
        await xa.split(1 << 20, 0)    # nothing there
    assert await xa.get_order(5) == 12


async def test_check_get_order(xa):
    """check_get_order (orders below 20; indices sampled inside each entry)."""
    assert [await xa.get_order(i) for i in range(3)] == [0, 0, 0]
    for order in range(20):
        for i in range(10):
            start = i << order
            await xa.store_order(start, order, mk(start))
            end = (i + 1) << order
            for j in {start, start + 1, (start + end) // 2, end - 1} & set(range(start, end)):
                assert await xa.get_order(j) == order
            await xa.erase(start)
    assert await xa.empty()


async def test_check_destroy(xa, aredis):
    """check_destroy: destroy empties the array and frees every Redis key."""
    await xa.destroy()
    assert await xa.empty()
    for index in list(range(100)) + [1000, 4097]:
        await xa.store(index, mk(index))
        assert not await xa.empty()
        await xa.destroy()
        assert await xa.empty()
    await xa.store(ULONG_MAX, b"xa")
    await xa.destroy()
    assert await xa.empty()
    await xa.store_order(1 << 11, 11, b"xa")
    await xa.set_mark(1 << 11, 2)
    await xa.destroy()
    assert await xa.empty() and await aredis.keys("*") == []


@pytest.mark.parametrize("index", [0, 64, 4096])
async def test_check_workingset(xa, index):
    """check_workingset: a node holding only value (shadow) entries has count == nr_values."""
    await xa.store(index, Value(0))
    await xa.store(index + 1, Value(1))
    node = covering(await xa.dump(), index)
    assert node.count == node.nr_values == 2
    await xa.store(index + 2, b"page")
    node = covering(await xa.dump(), index)
    assert node.count != node.nr_values
    await xa.store(index + 2, Value(2))
    node = covering(await xa.dump(), index)
    assert node.count == node.nr_values == 3
    await xa.destroy()


@pytest.mark.parametrize("cs", [2, 3, 4, 5, 6])
async def test_64bit_extremes(aredis, cs):
    """Indices across the whole unsigned long range, for every chunk shift."""
    xa = XArray(aredis, f"mmsim:{{m:ext/{cs}}}:xa", chunk_shift=cs)
    extremes = [0, 1, 2**32 - 1, 2**32, 2**32 + 1, 2**53, 2**53 + 1, 2**63 - 1, 2**63, ULONG_MAX - 1, ULONG_MAX]
    for i in extremes:
        assert await xa.store(i, mk(i)) is None
    assert await entries(xa) == [(i, mk(i)) for i in extremes]
    assert await loads(xa, extremes) == [mk(i) for i in extremes]
    assert await loads(xa, [2**53 + 2, 2**63 + 1, ULONG_MAX - 2]) == [None] * 3
    await xa.set_mark(2**53 + 1, 2)
    assert await xa.find(2**32 + 2, mark=2) == (2**53 + 1, mk(2**53 + 1))
    assert await xa.find_after(2**53 + 1, mark=2) is None
    assert await xa.find_after(2**53) == (2**53 + 1, mk(2**53 + 1))
    assert await xa.height() == (63 // cs) + 1
    for i in extremes:
        await erase_index(xa, i)
    assert await xa.empty()
    await xa.store_order(2**63, 63, b"top")
    assert await loads(xa, [2**63 - 1, 2**63, ULONG_MAX]) == [None, b"top", b"top"]
    assert await xa.get_order(ULONG_MAX) == 63
    assert await xa.erase(ULONG_MAX) == b"top"
    assert await xa.empty()


async def test_dump_draws_tree(aredis):
    """xa_dump as data (chunk shift 2 as in the kernel's userspace harness)."""
    xa = XArray(aredis, "mmsim:{m:dump/1}:xa", chunk_shift=2)
    await xa.store_order(4, 2, Value(9))
    await xa.reserve(1)
    await xa.store(17, b"p")
    await xa.set_mark(5, 0)
    d = await xa.dump()
    assert d.chunk_shift == 2 and d.root_shift == 4 and d.marks == (True, False, False)
    root, *rest = d.nodes
    assert root.shift == 4 and root.slots == {0: NODE, 1: NODE} and root.marks[0] == {0}
    first = next(n for n in rest if n.index == 0)
    assert first.slots == {0: NODE, 1: Value(9)} and first.marks[0] == {1}
    leaf0 = next(n for n in rest if n.index == 0 and n.shift == 0)
    assert leaf0.slots == {1: ZERO}
    assert await xa.nodes() == len(d.nodes) == 5


async def test_errors_change_nothing(xa, aredis):
    """A raising operation changes no state (errors.py contract)."""
    await xa.store_order(64, 6, b"a")
    await xa.set_mark(64, 1)
    await xa.reserve(3)
    snapshot = {k: await aredis.hgetall(k) for k in await aredis.keys("*")}
    for bad in (lambda: xa.insert(3, b"x"), lambda: xa.insert(70, b"x"), lambda: xa.split(64, 6),
                lambda: xa.split(3, 0), lambda: xa.store_order(65, 64, b"x")):
        with pytest.raises((InvalidArgument, AlreadyExists)):
            await bad()
    with pytest.raises(InvalidArgument):
        await XArray(aredis, xa.prefix, chunk_shift=4).store(1, b"x")
    assert {k: await aredis.hgetall(k) for k in await aredis.keys("*")} == snapshot


async def test_composed_script(xa, aredis):
    """build_script: an XArray store plus another key of the same hash tag, atomically."""
    body = """
local xa = xa_open(KEYS[1], nil)
local old = xa_store(xa, ARGV[1], 0, ARGV[2])
if ARGV[3] == 'fail' then xa_fail('EINVAL', 'asked to fail') end
if old == '' then redis.call('HINCRBY', KEYS[2], 'nrpages', 1) end
xa_commit(xa)
return old"""
    script = aredis.register_script(build_script(body))
    meta = "mmsim:{m:test/1}:meta"
    assert await script(keys=[xa.prefix, meta], args=[index_hex(7), b"pfolio", ""]) == b""
    assert await xa.load(7) == b"folio"
    assert await aredis.hget(meta, "nrpages") == b"1"
    with pytest.raises(Exception, match="asked to fail"):
        await script(keys=[xa.prefix, meta], args=[index_hex(8), b"pother", "fail"])
    assert await xa.load(8) is None and await aredis.hget(meta, "nrpages") == b"1"
