"""The page cache's Lua library, composed once: the XArray library (xarray.lua), struct page (vmemmap.lua),
the page-cache library (filemap.lua: filemap_get_entry, the LRU, __filemap_add_folio's stores) and the
workingset shadows (workingset.lua).

A leaf module (it imports no service logic), so the reverse map's fault script can read the page cache's
XArray with the same functions (filemap_map_pages reads i_pages under RCU) without importing the page cache.
"""

from __future__ import annotations

from mmsim.allocator.vmemmap import MAPPING_SHARED, PG, VMEMMAP_LUA_LIB
from mmsim.pagecache import xarray
from mmsim.runtime import lua

LRU_STATE_FLAGS = PG["active"] | PG["referenced"] | PG["workingset"] | PG["reclaim"]
"""The LRU state a folio loses with its place on the LRU (mm/swap.c, mm/vmscan.c, mm/workingset.c)."""

FILEMAP_LUA = "\n".join([xarray.XA_LUA_LIB, VMEMMAP_LUA_LIB,
                         f"local FM_LRU_FLAGS = {PG['lru'] | PG['dirty'] | LRU_STATE_FLAGS}",
                         f"local FM_PG_ACTIVE, FM_PG_WORKINGSET = {PG['active']}, {PG['workingset']}",
                         f"local FM_SHARED = {MAPPING_SHARED}",
                         f"local FM_TAG_FLAGS = {{[0] = {PG['dirty']}, [1] = {PG['writeback']}}}",
                         lua.source(__file__, "filemap", "workingset")])
