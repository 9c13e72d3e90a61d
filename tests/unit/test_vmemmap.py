"""struct page records and the Lua library: layout, refcount/mapcount overflow checks, decoding."""

from __future__ import annotations

import struct

import pytest

from mmsim.allocator import gfp as G
from mmsim.allocator.allocator import AllocatorService
from mmsim.allocator.vmemmap import (
    FREE_RECORD,
    INT_MAX,
    RECORD_FMT,
    RECORD_SIZE,
    Script,
    build_script,
    buddy_record,
    decode_page,
    page_type_value,
)
from mmsim.allocator.zones import Layout
from mmsim.runtime.errors import FailedPrecondition, OutOfRange


def test_record_layout():
    assert RECORD_SIZE == 56
    assert struct.unpack(RECORD_FMT, FREE_RECORD) == (0, -1, 0, 0, 0, 0, 0, 0, 0)
    assert page_type_value(0x80) == -129
    d = decode_page(8, buddy_record(3, 1), 0, "DMA")
    assert d.member == "buddy" and d.page_type == "buddy" and "order 3" in d.fields["buddy_list"]


@pytest.fixture()
async def svc(aredis):
    s = AllocatorService(aredis, Layout.build(16 << 20, 1))
    await s.buddy.init_memory()
    return s


async def test_refcount_overflow_checked(svc, aredis):
    a = await svc.alloc_pages(0)
    assert await svc.page_ref_add(a.pfn, INT_MAX - 1) == INT_MAX
    with pytest.raises(OutOfRange, match="_refcount overflow"):
        await svc.page_ref_add(a.pfn, 1)
    assert await svc.try_get_page(a.pfn) is False  # at INT_MAX: refused, unchanged
    assert (await svc.get_page(a.pfn)).refcount == INT_MAX
    await svc.page_ref_add(a.pfn, -INT_MAX)
    assert await svc.try_get_page(a.pfn) is False  # 0: refused
    with pytest.raises(FailedPrecondition, match="underflow"):
        await svc.page_ref_add(a.pfn, -1)
    await svc.page_ref_add(a.pfn, 1)
    assert await svc.try_get_page(a.pfn) is True
    await svc.page_ref_add(a.pfn, -1)
    with pytest.raises(FailedPrecondition, match="PageBuddy"):
        await svc.page_ref_add(1024, 1)


async def test_mapcount_overflow_and_typed_pages(svc):
    a = await svc.alloc_pages(0)
    assert await svc.page_mapcount_add(a.pfn, 1) == 0
    assert await svc.page_mapcount_add(a.pfn, INT_MAX) == INT_MAX
    with pytest.raises(OutOfRange, match="_mapcount overflow"):
        await svc.page_mapcount_add(a.pfn, 1)  # the 32-bit wrap is refused, not performed
    assert await svc.page_mapcount_add(a.pfn, -INT_MAX) == 0
    with pytest.raises(FailedPrecondition, match="underflow"):
        await svc.page_mapcount_add(a.pfn, -2)
    with pytest.raises(FailedPrecondition, match="page_type"):
        await svc.page_mapcount_add(1024, 1)


async def test_library_composes_and_interns(svc, aredis):
    s = Script(build_script("""
vm_init(KEYS[1], ARGV[1], ARGV[2])
local id = mapping_intern(ARGV[4])
page_set_field(tonumber(ARGV[3]), 'mapping', id)
page_set_field(tonumber(ARGV[3]), 'index', 7)
page_flags_set(tonumber(ARGV[3]), 2^5 + 2^3)
return {id, page_get_field(tonumber(ARGV[3]), 'index'), mapping_name(id)}
"""))
    a = await svc.alloc_pages(0, G.GFP_HIGHUSER_MOVABLE)
    r = await s(aredis, ["mmsim:{node:0}:"], [0, 4096, a.pfn, "ext4/12"])
    assert r[0] % 4 == 0 and r[1] == 7 and r[2] == b"ext4/12"
    d = await svc.get_page(a.pfn)
    assert d.member == "page_cache" and "ext4/12" in str(d.fields["mapping"]) and d.fields["index"] == 7
    assert d.flag_names == ["uptodate", "lru"]
    assert "Page allocated via order 0, mask 0x100cca(GFP_HIGHUSER_MOVABLE)" in d.format()
    with pytest.raises(FailedPrecondition, match="non-NULL mapping"):
        await svc.free_pages(a.pfn, 0)
