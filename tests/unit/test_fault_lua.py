"""The fault path's arithmetic in its Lua library (services/rmap/finish.lua), run in a real redis-server:
do_fault_around's window and finish_fault's plan (mm/memory.c), as both fault scripts use them."""

from __future__ import annotations

import json

from mmsim.rmap.lua import _FAULT_LIBS

PAGE = 4096
PMD_SIZE = 512 * PAGE

_BODY = """
local vma = cjson.decode(ARGV[2])
if ARGV[1] == 'window' then return {RM.around_window(vma, tonumber(ARGV[3]), tonumber(ARGV[4]))} end
return {RM.fault_plan(vma, tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]))}
"""


def _vma(start: int, pages: int, pgoff: int = 0) -> str:
    return json.dumps({"s": start, "e": start + pages * PAGE, "pg": pgoff, "f": 1, "m": "f/1"})


def window(redis_client, vma: str, address: int, fault_around_bytes: int) -> tuple[int, int]:
    return tuple(redis_client.eval(_FAULT_LIBS + _BODY, 0, "window", vma, address // PAGE, fault_around_bytes))


def plan(redis_client, vma: str, address: int, folio_index: int, order: int, i_size: int) -> tuple[int, int, int]:
    """(first file index, first address, pages) finish_fault maps."""
    v = json.loads(vma)
    index = v["pg"] + (address - v["s"]) // PAGE
    first, vpn, nr = redis_client.eval(_FAULT_LIBS + _BODY, 0, "plan", vma, address // PAGE, index, folio_index,
                                       order, i_size)
    return first, vpn * PAGE, nr


def test_fault_around_window_is_aligned_and_clamped(redis_client):
    """do_fault_around: 16 pages (fault_around_bytes 64 KiB) aligned down, clamped to the VMA and the PMD."""
    base = 64 * PMD_SIZE
    v = _vma(base, 64, 100)                                   # file pages 100..163
    assert window(redis_client, v, base + 5 * PAGE, 65536) == (100, 16)
    assert window(redis_client, v, base + 20 * PAGE, 65536) == (116, 16)
    assert window(redis_client, v, base + 63 * PAGE, 65536) == (148, 16)
    small = _vma(base + 3 * PAGE, 4)                          # 4 pages, starting mid-window
    assert window(redis_client, small, base + 4 * PAGE, 65536) == (0, 4)
    edge = _vma(base + PMD_SIZE - 8 * PAGE, 16)               # straddles a PMD
    assert window(redis_client, edge, base + PMD_SIZE - PAGE, 65536) == (0, 8)   # not past the page table
    assert window(redis_client, v, base, 4096) == (0, 0)      # fault_around_bytes = PAGE_SIZE: off


def test_finish_fault_plan_maps_whole_folio_only_when_it_fits(redis_client):
    start = 0x7f0000000000
    v = _vma(start, 64)   # pgoff 0, 64 pages, PMD aligned
    # order-2 folio at index 4 (pages 4..7), fault at page 5, file large enough
    assert plan(redis_client, v, start + 5 * PAGE + 17, 4, 2, 64 * PAGE) == (4, start + 4 * PAGE, 4)
    # the folio runs past i_size: only the faulting page (needs_fallback)
    assert plan(redis_client, v, start + 5 * PAGE, 4, 2, 6 * PAGE)[::2] == (5, 1)
    # the folio starts before the VMA (vm_pgoff 6): one page
    v6 = _vma(start, 64, 6)
    assert plan(redis_client, v6, start + PAGE, 4, 3, 1 << 20)[::2] == (7, 1)
    # the folio would cross a page-table (2 MiB) boundary: one page
    cross = _vma(start - 2 * PAGE, 64)
    assert plan(redis_client, cross, start - PAGE, 0, 2, 1 << 20)[2] == 1
