"""lib/test_xarray.c cases for the rest of the XArray API (issue 14): allocating arrays, splits that store a
new entry, xas_try_split, allocation failure, xa_marked, unaligned xa_store_order, iteration safe against
changes, errnos. Each docstring names the kernel test function it ports."""

from __future__ import annotations

import pytest

from mmsim.pagecache.xarray import (
    UINT_MAX,
    XA_FLAGS_ALLOC,
    XA_FLAGS_ALLOC1,
    XA_FREE_MARK,
    ZERO,
    Value,
    XArray,
)
from mmsim.runtime.errors import AlreadyExists, InvalidArgument, ResourceExhausted
from test_xarray import entries, erase_index, mk


async def snapshot(aredis):
    return {k: await aredis.hgetall(k) for k in sorted(await aredis.keys("*"))}


@pytest.fixture(params=[(XA_FLAGS_ALLOC, 0), (XA_FLAGS_ALLOC1, 1)], ids=["alloc", "alloc1"])
def alloc_xa(request, aredis):
    flags, base = request.param
    return XArray(aredis, f"mmsim:{{m:alloc/{base}}}:xa", flags=flags), base


async def alloc_index(xa, index):
    """xa_alloc_index: allocating mk(index) gives that ID."""
    assert await xa.alloc(mk(index)) == index


async def test_check_xa_alloc_1(alloc_xa):
    """check_xa_alloc_1 (ALLOC from 0, ALLOC1 from 1; 5000 allocations scaled to 100)."""
    xa, base = alloc_xa
    assert await xa.empty()
    await alloc_index(xa, base)
    await erase_index(xa, base)
    assert await xa.empty()
    await alloc_index(xa, base)
    for i in range(base + 1, 2 * 64):
        await alloc_index(xa, i)
    for i in range(base, 2 * 64):
        await erase_index(xa, i)
    await alloc_index(xa, base)
    await xa.destroy()
    await alloc_index(xa, base)
    await alloc_index(xa, base + 1)
    await erase_index(xa, base + 1)
    assert await xa.store(base + 1, mk(base + 1)) is None    # storing a value marks it used
    await alloc_index(xa, base + 2)
    await erase_index(xa, base)                               # ... and erasing frees it
    await alloc_index(xa, base)
    await erase_index(xa, base + 1)
    await erase_index(xa, base + 2)
    for i in range(1, 100):
        await alloc_index(xa, base + i)
    await xa.destroy()
    assert await xa.alloc(mk(UINT_MAX - 1), UINT_MAX - 1, UINT_MAX) == UINT_MAX - 1
    assert await xa.alloc(mk(UINT_MAX), UINT_MAX - 1, UINT_MAX) == UINT_MAX
    with pytest.raises(AlreadyExists) as err:                 # the limit is full: -EBUSY
        await xa.alloc(mk(0), UINT_MAX - 1, UINT_MAX)
    assert err.value.errno == "EBUSY"
    await xa.destroy()
    with pytest.raises(AlreadyExists):
        await xa.alloc(mk(10), 10, 5)
    assert await xa.store(3, mk(3)) is None
    with pytest.raises(AlreadyExists):
        await xa.alloc(mk(10), 10, 5)
    await erase_index(xa, 3)
    assert await xa.empty()


async def test_check_xa_alloc_2(alloc_xa):
    """check_xa_alloc_2: NULL allocations reserve IDs; xa_store(NULL) keeps an ID allocated."""
    xa, base = alloc_xa
    assert await xa.alloc(None) == base
    assert not await xa.empty()
    assert await xa.erase(base) is None
    assert await xa.empty()
    assert await xa.alloc(None) == base
    await xa.destroy()
    assert await xa.empty()
    for i in range(base, base + 10):
        assert await xa.alloc(None) == i
    assert await xa.store(3, mk(3)) is None
    assert await xa.store(4, mk(4)) is None
    assert await xa.store(4, None) == mk(4)
    assert await xa.erase(5) is None
    assert await xa.alloc(None) == 5
    for index, _ in await entries(xa):
        await erase_index(xa, index)
    for i in range(base, base + 9):
        assert await xa.erase(i) is None
        assert not await xa.empty()
    assert await xa.erase(8) is None
    assert not await xa.empty()
    assert await xa.erase(base + 9) is None
    assert await xa.empty()


async def test_check_xa_alloc_3(alloc_xa):
    """check_xa_alloc_3: xa_alloc_cyclic from next, wrapping to min (return value 1), and past UINT_MAX."""
    xa, base = alloc_xa
    lo, hi = 1, 0x3FFF
    got = await xa.alloc_cyclic(mk(1), 0, lo, hi)
    assert (got.id, got.wrapped, got.next) == (1, False, 2)
    got = await xa.alloc_cyclic(mk(0x3FFD), 0x3FFD, lo, hi)
    assert got.id == 0x3FFD
    nxt = got.next
    await erase_index(xa, 0x3FFD)
    await erase_index(xa, 1)
    assert await xa.empty()
    for i in range(0x3FFE, 0x4003):
        entry = mk(i) if i < 0x4000 else mk(i - 0x3FFF)
        got = await xa.alloc_cyclic(entry, nxt, lo, hi)
        assert mk(got.id) == entry and got.wrapped == (got.id == 1)
        nxt = got.next
    if base:
        await erase_index(xa, base)
    await erase_index(xa, base + 1)
    got = await xa.alloc_cyclic(mk(UINT_MAX), UINT_MAX)
    assert (got.id, got.wrapped, got.next) == (UINT_MAX, False, 0)
    got = await xa.alloc_cyclic(mk(base), got.next)           # XA_FLAGS_ALLOC_WRAPPED: reports 1 once
    assert (got.id, got.wrapped) == (base, True)
    got = await xa.alloc_cyclic(mk(base + 1), got.next)
    assert (got.id, got.wrapped) == (base + 1, False)
    for index, _ in await entries(xa):
        await erase_index(xa, index)
    assert await xa.empty()


async def test_alloc_free_mark_and_errors(aredis):
    """XA_FREE_MARK: xa_marked / xa_get_mark on free slots; xa_alloc on a plain array is -EINVAL."""
    xa = XArray(aredis, "mmsim:{m:free/1}:xa", flags=XA_FLAGS_ALLOC)
    assert await xa.marked(XA_FREE_MARK)
    for i in range(64):
        assert await xa.alloc(mk(i)) == i
    assert not await xa.marked(XA_FREE_MARK) and not await xa.get_mark(5, XA_FREE_MARK)
    assert await xa.alloc(mk(64)) == 64                       # beyond the tree: it grows
    assert await xa.marked(XA_FREE_MARK)
    await erase_index(xa, 5)
    assert await xa.get_mark(5, XA_FREE_MARK)
    assert await xa.alloc(mk(5), 2) == 5
    plain = XArray(aredis, "mmsim:{m:free/2}:xa")
    with pytest.raises(InvalidArgument) as err:
        await plain.alloc(mk(0))
    assert err.value.errno == "EINVAL"
    with pytest.raises(InvalidArgument):
        await xa.alloc(mk(0), 0, UINT_MAX + 1)
    with pytest.raises(InvalidArgument):                      # flags are the array's: fixed while it exists
        await XArray(aredis, xa.prefix).store(1000, b"x")


@pytest.mark.parametrize("cs", [6, 3])
async def test_check_split_stores_new_entry(aredis, cs):
    """check_split_1 / check_split_2: xas_split(xas, entry, order) stores ``entry`` in every new entry,
    marks copied, nr_values accounted (a value entry split into object entries)."""
    xa = XArray(aredis, f"mmsim:{{m:split/new{cs}}}:xa", chunk_shift=cs)
    for order, new_order in ((cs, 0), (cs + 2, cs), (2, 1), (2 * cs - 1, cs - 1)):
        await xa.store_order(0, order, Value(7))
        await xa.set_mark(0, 2)
        await xa.split(0, new_order, b"new")
        parts = [(k << new_order, b"new") for k in range(1 << (order - new_order))]
        assert await entries(xa) == parts
        assert await entries(xa, mark=2) == parts
        assert all(n.nr_values == 0 for n in (await xa.dump()).nodes)
        await xa.destroy()
    with pytest.raises(InvalidArgument):
        await xa.store_order(0, 2, b"x") or await xa.split(0, 0, None)


@pytest.mark.parametrize("cs", [6, 3])
async def test_check_split_too_deep_is_enomem(aredis, cs):
    """check_split: xas_split_alloc past one level fails with ENOMEM and changes nothing."""
    xa = XArray(aredis, f"mmsim:{{m:split/deep{cs}}}:xa", chunk_shift=cs)
    await xa.store_order(0, 2 * cs, b"big")
    before = await snapshot(aredis)
    with pytest.raises(ResourceExhausted) as err:
        await xa.split(0, 0)
    assert err.value.errno == "ENOMEM" and await snapshot(aredis) == before
    await xa.split(0, cs)                      # one level: fine
    assert await xa.get_order(5) == cs


@pytest.mark.parametrize("cs", [6, 3])
async def test_check_try_split(aredis, cs):
    """check_split_2 with xas_try_split (the non-uniform split of __folio_split): one order at a time
    keeps the half without ``at`` whole; a split needing more than one node is EINVAL."""
    xa = XArray(aredis, f"mmsim:{{m:trysplit/{cs}}}:xa", chunk_shift=cs)
    order, at = 2 * cs - 1, 5
    await xa.store_order(0, order, Value(1))
    await xa.set_mark(0, 0)
    base = 0
    for k in range(order, 0, -1):                   # split the half holding `at` down to order 0
        await xa.try_split(base, k - 1, Value(k))
        if at >= base + (1 << (k - 1)):
            base += 1 << (k - 1)
    found = await entries(xa, mark=0)
    assert [i for i, _ in found] == [0, 4, 5, 6] + [1 << k for k in range(3, order)]
    assert [await xa.get_order(i) for i, _ in found] == [2, 0, 0, 1] + list(range(3, order))
    assert dict(found)[at] == Value(1) and dict(found)[1 << (order - 1)] == Value(order)
    await xa.destroy()
    await xa.store_order(0, 2 * cs - 1, b"x")       # (2cs-1) -> (cs-1) needs a node per slot
    with pytest.raises(InvalidArgument):
        await xa.try_split(0, cs - 1)
    await xa.try_split(0, cs)
    await xa.try_split(0, cs - 1)                   # one slot of order cs -> one new node
    assert await xa.get_order(0) == cs - 1 and await xa.get_order(1 << cs) == cs


async def test_node_allocation_fails_on_purpose(aredis):
    """Fault injection (the kernel's xas_nomem failure paths, check_xa_err): every operation that needs a
    node fails with ENOMEM and leaves the array unchanged; per array (fail_after) or per call (failing)."""
    xa = XArray(aredis, "mmsim:{m:nomem/1}:xa", chunk_shift=3)
    await xa.store_order(0, 3, b"eight")
    await xa.store(100, b"far")
    before = await snapshot(aredis)
    attempts = (lambda: xa.store(7000, b"x"), lambda: xa.store(72, b"x"), lambda: xa.split(0, 0),
                lambda: xa.try_split(0, 0), lambda: xa.store_range(200, 300, b"r"), lambda: xa.insert(9000, b"i"),
                lambda: xa.reserve(5000), lambda: xa.cmpxchg(4000, None, b"c"))
    for attempt in attempts:
        with xa.failing(0), pytest.raises(ResourceExhausted) as err:
            await attempt()
        assert err.value.errno == "ENOMEM", attempt
        assert await snapshot(aredis) == before
    with xa.failing(1):                              # one node is enough to grow below the root
        await xa.store(101, b"near")
    assert await xa.store(7000, b"x") is None        # the switch is off again
    alloc = XArray(aredis, "mmsim:{m:nomem/2}:xa", flags=XA_FLAGS_ALLOC, fail_after=0)
    with pytest.raises(ResourceExhausted):
        await alloc.alloc(b"a", 64)
    assert await alloc.alloc(b"a") == 0              # index 0 lives in the head: no node
    with pytest.raises(InvalidArgument):
        XArray(aredis, "mmsim:{m:nomem/3}:xa", fail_after=-1)


async def test_xa_marked(aredis):
    """xa_marked (include/linux/xarray.h), as check_xa_mark_1 uses it: set while any entry has the mark."""
    xa = XArray(aredis, "mmsim:{m:marked/1}:xa")
    assert not await xa.marked(0)
    await xa.store(70, b"x")
    await xa.store_order(128, 6, b"y")
    await xa.set_mark(70, 0)
    await xa.set_mark(130, 1)
    assert [await xa.marked(m) for m in range(3)] == [True, True, False]
    await xa.clear_mark(70, 0)
    assert not await xa.marked(0)
    await xa.erase(150)
    assert not await xa.marked(1)
    with pytest.raises(InvalidArgument):
        await xa.marked(3)


async def test_store_order_rounds_an_unaligned_index(aredis):
    """check_multi_store_3 / check_xa_multi_store_adv: xa_store_order at index 200 rounds down as
    XA_STATE_ORDER does ((index >> order) << order)."""
    xa = XArray(aredis, "mmsim:{m:unaligned/1}:xa")
    for order in range(1, 9):
        assert await xa.store_order(200, order, mk(200)) is None
        first = (200 >> order) << order
        assert await xa.load(first) == mk(200) and await xa.load(first + (1 << order) - 1) == mk(200)
        assert await xa.get_order(200) == order and await entries(xa) == [(first, mk(200))]
        await xa.erase(200)
        assert await xa.empty()


async def test_for_each_sees_changes_made_while_walking(aredis):
    """check_xas_erase / xa_for_each's "safe to delete entries": a walk never yields an entry erased
    ahead of it, and yields one stored ahead of it (it resumes with xa_find_after from its index)."""
    xa = XArray(aredis, "mmsim:{m:walk/1}:xa")
    for i in range(0, 40, 2):
        await xa.store(i, mk(i))
    seen = []
    async for index, entry in xa.for_each(batch=256):
        seen.append(index)
        if index == 10:
            for k in range(12, 40, 4):
                await xa.erase(k)                  # erased ahead of the walk: not yielded
            await xa.store(33, mk(33))             # stored ahead of the walk: yielded
    assert seen == [0, 2, 4, 6, 8, 10, 14, 18, 22, 26, 30, 33, 34, 38]


async def test_errno_is_kept_on_the_exception(aredis):
    """check_xa_err / check_insert / check_reserve: EBUSY for an occupied insert, EINVAL for bad
    arguments and internal entries, ENOMEM for a failed allocation; each is the gRPC status's class."""
    xa = XArray(aredis, "mmsim:{m:errno/1}:xa")
    await xa.reserve(3)
    with pytest.raises(AlreadyExists) as err:
        await xa.insert(3, b"x")
    assert err.value.errno == "EBUSY" and err.value.code == "ALREADY_EXISTS"
    with pytest.raises(InvalidArgument) as err:
        await xa.store_range(0, 4, ZERO)
    assert err.value.errno == "EINVAL" and err.value.code == "INVALID_ARGUMENT"
    with pytest.raises(InvalidArgument) as err:
        await xa.split(3, 0)
    assert err.value.errno == "EINVAL"
    with xa.failing():
        with pytest.raises(ResourceExhausted) as err:
            await xa.store(1 << 40, b"x")
    assert err.value.errno == "ENOMEM" and err.value.code == "RESOURCE_EXHAUSTED"
