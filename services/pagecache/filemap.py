"""The page cache over the XArray: models mm/filemap.c (filemap_fault's lookup, __filemap_add_folio,
filemap_get_folio, the PAGECACHE_TAG_* marks) and the 2018 to-do list's zero entries for holes.

Each operation is one Lua script (one Redis round trip) made of the XArray library
(``xarray.lua``), the page-cache library (``filemap.lua``) and a short body; truncation adds the reverse
map's PTE walk, the folio split (``huge_memory.lua``) and mm/truncate.c (``truncate.lua``), so a large folio
cut by a truncate, hole punch or reflink is split -- XArray entry, struct pages and every PTE -- in that step. A mapping's keys all carry
its hash tag ``{m:FS/INO}``: the inode hash the filesystem writes (i_size, indexing) and the XArray.

Indexing modes (the hugetlbfs-vs-THP item; chosen per file by the inode's ``indexing`` field):
``multi-order`` one entry of order N per folio (THP with the XArray), ``order-0`` 2**N order-0 entries
per folio (the radix-tree layout the article rejects), ``hugetlb`` one entry per 2 MiB folio at index
``page_index >> 9`` (hugetlbfs's huge-page units). A lookup by byte offset gives the same folio in all three.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from mmsim.allocator.vmemmap import MAPPING_SHARED, PG, node_spans
from mmsim.allocator.zones import Layout
from mmsim.pagecache import xarray
from mmsim.pagecache.filemap_lua import FILEMAP_LUA
from mmsim.rmap.lua import RMAP_LUA_LIB, RMAP_WALK_LUA_LIB
from mmsim.runtime import config, keys, locks, profiles
from mmsim.runtime.errors import Aborted, AlreadyExists, NotFound, require
from mmsim.runtime.lua import Script

PAGE_SHIFT = 12
_ADDED_FLAGS = PG["uptodate"] | PG["lru"]   # filemap_add_folio -> folio_add_lru; the read completed
MAX_PAGECACHE_ORDER = 9          # include/linux/pagemap.h with THP: min(MAX_XAS_ORDER, PMD order)
MAX_FILE_INDEX = (1 << 52) - 1   # MAX_LFS_FILESIZE >> PAGE_SHIFT on 64-bit, rounded to what Lua holds exactly
TRUNCATE_LUA = "\n".join([FILEMAP_LUA, f"local MAPPING_SHARED = {MAPPING_SHARED}", RMAP_LUA_LIB, RMAP_WALK_LUA_LIB,
                          Path(__file__).with_name("huge_memory.lua").read_text(),
                          Path(__file__).with_name("truncate.lua").read_text()])
"""The truncation scripts: the page cache's libraries, the reverse map's PTE walk, the split (huge_memory.lua) and
mm/truncate.c (truncate.lua). They cross hash tags: ``{m:…}``, ``{node:N}`` and every mapper's ``{mm:PID}``."""


class Tag(enum.IntEnum):
    """PAGECACHE_TAG_* (include/linux/fs.h); the value is the wire enum, the mark is value - 1."""

    DIRTY = 1      # XA_MARK_0
    WRITEBACK = 2  # XA_MARK_1
    TOWRITE = 3    # XA_MARK_2

    @property
    def mark(self) -> int:
        return self.value - 1


@dataclass(frozen=True)
class Folio:
    node: int
    pfn: int
    order: int


@dataclass(frozen=True)
class Found:
    """What covers a file index: a folio, or a zero entry (a hole)."""

    index: int                    # first file index the entry covers (units: pages)
    folio: Folio | None           # None for a zero entry
    order: int                    # order of the folio or of the zero entry
    tags: tuple[Tag, ...] = ()
    shared: bool = False          # cached by several mappings through PFN entries

    @property
    def zero(self) -> bool:
        return self.folio is None


@dataclass(frozen=True)
class FaultLookup:
    index: int                    # the faulting file index (units: pages)
    i_size: int                   # bytes
    found: Found | None
    around: tuple[Found, ...] = ()  # folios cached in the fault-around window (filemap_map_pages)

    @property
    def beyond_eof(self) -> bool:
        """filemap_fault's first check: pgoff >= DIV_ROUND_UP(i_size, PAGE_SIZE)."""
        return self.index >= (self.i_size + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT


_LOOKUP = """
local ino = fm_inode(KEYS[1])
local xa = xa_open(KEYS[2], ARGV[1])
vm_spans(ARGV[4])
local f = fm_lookup(xa, ino, tonumber(ARGV[2]))
-- filemap_fault counts PGMAJFAULT at the miss, before it asks for the folio to be read
local fault = ARGV[5]
if fault ~= '' and tonumber(ARGV[2]) < math.ceil(ino.i_size / 4096)
   and (f.kind == '' or f.kind == 'shadow' or (f.kind == 'hole' and fault == 'write')) then
  redis.call('HINCRBY', KEYS[3], 'pgmajfault', 1)
end
local tags = ''
if f.kind ~= '' and ARGV[3] == '1' then
  for m = 0, 2 do tags = tags .. (xa_get_mark(xa, f.slot, m) and '1' or '0') end
end
local out
if f.kind == 'folio' then
  out = {tostring(ino.i_size), fm_is_shared(f) and 'shared' or 'folio', f.node, f.pfn, f.order, tostring(f.index), tags}
elseif f.kind == 'hole' then
  out = {tostring(ino.i_size), 'hole', 0, 0, f.order, tostring(f.index), tags}
else
  out = {tostring(ino.i_size), '', 0, 0, 0, '0', ''}
end
-- filemap_map_pages: the folios already cached in the fault-around window, below EOF
local lo, n = tonumber(ARGV[6] or '0'), tonumber(ARGV[7] or '0')
local last = math.min(lo + n, math.ceil(ino.i_size / 4096)) - 1
if n > 0 and last >= lo then
  for _, a in ipairs(fm_entries(xa, ino, lo, last)) do
    if a.kind == 'folio' then
      out[#out + 1] = a.node; out[#out + 1] = a.pfn; out[#out + 1] = a.order; out[#out + 1] = tostring(a.index)
    end
  end
end
return out
"""

# filemap_invalidate_unlock_shared in the insert's own step (AddFolio's unlock): the fence is the caller's
# lock (FENCE_KEY, FENCE_SPEC); its release and the waiters woken are appended to the reply
_UNLOCK = """
local function fm_unlocked(out, unlock)
  if unlock == '1' then
    local r = lk_release(FENCE_KEY, FENCE_KEY .. ':wake', string.sub(FENCE_SPEC, 1, 1), string.sub(FENCE_SPEC, 3))
    out[#out + 1] = r[1]; out[#out + 1] = r[2]
  end
  return out
end
"""

# models __filemap_add_folio: -EEXIST on any real folio in the range; zero/value entries are replaced.
# A populate's insert also completes its read (ARGV[11] = '1': the contents ARGV[12] are stored in the same
# step: the folio enters the cache uptodate with its bytes), counts its allocation (ARGV[13] = '1': thp_file_alloc
# at PMD order, mTHP file_alloc above order 0, and ARGV[14], the orders that failed before, as *_fallback;
# filemap_add_folio counts MTHP_STAT_FILE_ALLOC) and releases the caller's lock (ARGV[15] = '1').
_ADD_FOLIO = _UNLOCK + """
local ino = fm_inode(KEYS[1])
local stale = fm_stale(KEYS[1], ARGV[9])
if stale then return stale end
local index, order, node, pfn = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local nr = fm_pow2(order)
if index % nr ~= 0 then
  fm_fail('InvalidArgument', 'index ' .. ARGV[2] .. ' is not aligned to the folio size (order ' .. order .. ')')
end
if ino.mode == 'hugetlb' and order ~= 9 then
  fm_fail('FailedPrecondition', 'a hugetlb mapping holds only order-9 (2 MiB) folios, not order ' .. order)
end
local xa = xa_open(KEYS[2], ARGV[1])
local last = index + nr - 1
local olds = fm_overlapping(xa, ino, index, last)
for _, o in ipairs(olds) do
  if o[2]:byte(1) == 112 then
    local wn, wp, wo = fm_parse(o[2])
    local wi = tonumber(o[1], 16)
    if ino.mode == 'hugetlb' then wi = wi * 512 end
    return {'EEXIST', wn, wp, wo, tostring(wi - wi % fm_pow2(wo))}
  end
end
vm_spans(ARGV[6])
vm_node(node)
local lost = ledger_check_take(tonumber(pfn), ARGV[10])   -- the folio leaves the in-flight ledger here
if lost then fm_fail('FailedPrecondition', lost) end
ledger_drop(tonumber(pfn))
local shadow
for _, o in ipairs(olds) do
  if o[2] == FM_HOLE then fm_punch_hole_entry(xa, ino, o[1], index, last)
  else   -- a workingset shadow: read (the one at `index` first); a larger one is split (xas_split): the pages
         -- outside the new folio keep it
    local so = xa_get_order(xa, o[1])
    local hs = tonumber(o[1], 16)
    hs = hs - hs % fm_pow2(so)
    local he = hs + fm_pow2(so) - 1
    if not shadow or (hs <= index and index <= he) then shadow = o[2] end
    fm_store(xa, ino, hs, so, '', 'shadow')
    if hs < index then fm_store_holes(xa, ino, hs, index - 1, o[2]) end
    if he > last then fm_store_holes(xa, ino, last + 1, he, o[2]) end
  end
end
fm_store(xa, ino, index, order, fm_entry(node, pfn, order), '')
xa_commit(xa)
vm_node(node)
page_flags_set(tonumber(pfn), tonumber(ARGV[7]))   -- the folio is uptodate (populated) and on the LRU
if ino.mode ~= 'hugetlb' then   -- hugetlbfs folios are never on the LRU
  local active, workingset = false, false
  if shadow then active, workingset = WS.refault(tonumber(node), nr, shadow) end
  LRU.add(tonumber(node), tonumber(pfn), nr, active)   -- folio_add_lru
  if workingset then page_flags_set(tonumber(pfn), FM_PG_WORKINGSET) end
end
page_set_field(tonumber(pfn), 'mapping', mapping_intern(ARGV[8]))   -- folio->mapping, folio->index
page_set_field(tonumber(pfn), 'index', index)
local nrpages = redis.call('HINCRBY', KEYS[1], 'nrpages', nr)
redis.call('HINCRBY', KEYS[3], 'nr_file_pages', nr)
if order == 9 then redis.call('HINCRBY', KEYS[3], 'nr_file_hugepages', 1) end
if ARGV[11] == '1' then redis.call('SET', 'mmsim:{node:' .. node .. '}:mem:' .. pfn, ARGV[12]) end
if ARGV[13] == '1' then
  local function count(o, what)
    if o == 9 then redis.call('HINCRBY', KEYS[3], 'thp_file_' .. what, 1) end
    if o > 0 then
      redis.call('HINCRBY', 'mmsim:{node:' .. node .. '}:mthp_stats', string.format('%dkB:file_', 4 * fm_pow2(o)) .. what, 1)
    end
  end
  for o in string.gmatch(ARGV[14], '%d+') do count(tonumber(o), 'fallback') end
  count(order, 'alloc')
end
return fm_unlocked({'OK', nrpages}, ARGV[15])
"""

_ADD_ZERO = _UNLOCK + """
local ino = fm_inode(KEYS[1])
local stale = fm_stale(KEYS[1], ARGV[4])
if stale then return stale end
local index, order = tonumber(ARGV[2]), tonumber(ARGV[3])
local nr = fm_pow2(order)
if index % nr ~= 0 then
  fm_fail('InvalidArgument', 'index ' .. ARGV[2] .. ' is not aligned to the zero entry size (order ' .. order .. ')')
end
if ino.mode == 'hugetlb' then fm_fail('FailedPrecondition', 'hugetlb mappings have no zero entries') end
local xa = xa_open(KEYS[2], ARGV[1])
local olds = fm_overlapping(xa, ino, index, index + nr - 1)
if #olds > 0 then
  fm_fail('AlreadyExists', 'page ' .. tonumber(olds[1][1], 16) .. ' is already in the page cache')
end
fm_store(xa, ino, index, order, FM_HOLE, '')
xa_commit(xa)
redis.call('HINCRBY', KEYS[3], 'mmsim_zero_entry_pages', nr)
return fm_unlocked({redis.call('HINCRBY', KEYS[1], 'zero_pages', nr)}, ARGV[5])
"""

_TAG = """
local ino = fm_inode(KEYS[1])
local xa = xa_open(KEYS[2], ARGV[1])
vm_spans(ARGV[5])
local f = fm_lookup(xa, ino, tonumber(ARGV[2]))
if f.kind ~= 'folio' then fm_fail('NotFound', 'no folio at index ' .. ARGV[2] .. ' of ' .. KEYS[1]) end
local mark, set = tonumber(ARGV[3]), ARGV[4] ~= '1'
if xa_get_mark(xa, f.slot, mark) ~= set then fm_account_tag(f, mark, set and 1 or -1) end
local slots = {f.slot}
if ino.mode == 'order-0' then
  slots = {}
  for i = 0, fm_pow2(f.order) - 1 do slots[#slots + 1] = fm_hex(f.index + i) end
end
for _, s in ipairs(slots) do
  if ARGV[4] == '1' then xa_clear_mark(xa, s, ARGV[3]) else xa_set_mark(xa, s, ARGV[3]) end
end
xa_commit(xa)
return 1
"""

# models filemap_get_folios_tag: tagged folios from `start`, each once
_FIND_TAGGED = """
local ino = fm_inode(KEYS[1])
local xa = xa_open(KEYS[2], ARGV[1])
local out, seen = {}, {}
local maxhex = fm_hex(4503599627370495)
local idx, e = xa_find(xa, fm_hex(fm_slot(ino, tonumber(ARGV[2]))), maxhex, ARGV[3])
while idx and #out < 4 * tonumber(ARGV[4]) do
  if e:byte(1) == 112 and not seen[e] then
    seen[e] = true
    local node, pfn, order = fm_parse(e)
    local first = tonumber(idx, 16)
    if ino.mode == 'hugetlb' then first = first * 512 end
    first = first - first % fm_pow2(order)
    out[#out + 1] = node; out[#out + 1] = pfn; out[#out + 1] = order; out[#out + 1] = tostring(first)
  end
  idx, e = xa_find_after(xa, idx, maxhex, ARGV[3])
end
return out
"""

_STATS = """
local ino = fm_inode(KEYS[1])
local xa = xa_open(KEYS[2], ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'xa_folio_entries', 'xa_hole_entries')
local folios, holes = tonumber(c[1]) or 0, tonumber(c[2]) or 0
local tagged = ''
for m = 0, 2 do tagged = tagged .. (xa_marked(xa, m) and '1' or '0') end
return {folios + holes, folios, holes, xa.nnodes, (xa.rlevel or -1) + 1, ino.nrpages, ino.zero_pages, ino.mode, tagged}
"""


# models truncate_inode_pages_range (truncate.lua). KEYS: inode, xa.
# ARGV: 1 chunk shift, 2 lstart (bytes), 3 lend (bytes, inclusive; -1 = to EOF), 4 node spans, 5 mapping,
#       6 the profiles whose truncation splits non-uniformly (comma-separated)
# -> {folios removed, bytes zeroed, folios split, splits refused, PTEs unmapped, split log, node, pfn, order...}
_TRUNCATE = """
local function main()
  local ino = fm_inode(KEYS[1])
  local xa = xa_open(KEYS[2], ARGV[1])
  vm_spans(ARGV[4])
  local h = redis.call('HMGET', KEYS[1], 'min_order', 'policy', 'profile')
  local min = h[2] == 'fallback' and 0 or tonumber(h[1] or '0')   -- mapping_min_folio_order
  local uniform = not string.find(',' .. ARGV[6] .. ',', ',' .. (h[3] or '') .. ',', 1, true)
  TR.range(xa, ino, ARGV[5], tonumber(ARGV[2]), tonumber(ARGV[3]), min, uniform)
  xa_commit(xa)
  local out = {TR.removed, TR.zeroed, TR.split, TR.failed, TR.unmapped, table.concat(HM.log, '; ')}
  for _, x in ipairs(FM_FREED) do out[#out + 1] = x end
  return out
end
return main()
"""


@dataclass(frozen=True)
class TruncateResult:
    """What one truncate_inode_pages_range did (the _TRUNCATE script's reply)."""

    folios_removed: int           # folios deleted from the page cache
    bytes_zeroed: int             # bytes zeroed inside partial folios
    folios_split: int             # large folios split (each split counts once)
    split_failed: int             # splits refused (the folio was unmapped instead)
    ptes_unmapped: int            # PTEs zapped by truncate_cleanup_folio / a refused split
    split_log: str                # one line per split attempt: pfn, order, the new orders or the refusal
    freed: tuple[Folio, ...]      # folios whose last reference went (the caller frees them)

    @property
    def pages_freed(self) -> int:
        return sum(1 << f.order for f in self.freed)


# models invalidate_mapping_pages (POSIX_FADV_DONTNEED, drop_caches): drop clean, unmapped folios only
_INVALIDATE = """
local ino = fm_inode(KEYS[1])
local xa = xa_open(KEYS[2], ARGV[1])
vm_spans(ARGV[2])
local removed, skipped = 0, 0
for _, f in ipairs(fm_entries(xa, ino, 0, 4503599627370495)) do
  if f.kind == 'folio' then
    vm_node(f.node)
    local busy = xa_get_mark(xa, f.slot, 0) or xa_get_mark(xa, f.slot, 1)
    if busy or page_get_field(f.pfn, 'mapcount') ~= -1 or page_get_field(f.pfn, 'refcount') ~= 1 then
      skipped = skipped + 1
    else
      removed = removed + 1
      fm_remove(xa, ino, f)
    end
  end
end
return fm_commit_reply(xa, removed, skipped)
"""


# PFN entries: the source's clean folios wholly inside the range get entries in the destination too
_SHARE = """
local src, dst = fm_inode(KEYS[1]), fm_inode(KEYS[3])
local allowed = {}
for p in string.gmatch(ARGV[6], '[^,]+') do allowed[p] = true end
local prof = redis.call('HGET', KEYS[3], 'profile') or ''
if not allowed[prof] then
  fm_fail('FailedPrecondition', 'profile ' .. prof .. ' has no PFN entries: a folio has one ->mapping and ->index, '
    .. 'so ' .. KEYS[3] .. ' must cache its own copy')
end
local sxa, dxa = xa_open(KEYS[2], ARGV[1]), xa_open(KEYS[4], ARGV[1])
vm_spans(ARGV[5])
local s0, d0, nr = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local shared, pages, skipped = 0, 0, 0
for _, f in ipairs(fm_entries(sxa, src, s0, s0 + nr - 1)) do
  if f.kind == 'folio' then
    local n = fm_pow2(f.order)
    local di = d0 + (f.index - s0)
    local clean = not xa_get_mark(sxa, f.slot, 0) and not xa_get_mark(sxa, f.slot, 1)
    if f.index < s0 or f.index + n > s0 + nr or di % n ~= 0 or not clean or #fm_overlapping(dxa, dst, di, di + n - 1) > 0 then
      skipped = skipped + 1
    else
      vm_node(f.node)
      if page_get_field(f.pfn, 'mapping') == FM_SHARED then
        page_set_field(f.pfn, 'index', page_get_field(f.pfn, 'index') + 1)
      else
        page_set_field(f.pfn, 'mapping', FM_SHARED)
        page_set_field(f.pfn, 'index', 2)
      end
      page_ref_add(f.pfn, 1)
      fm_store(dxa, dst, di, f.order, fm_entry(f.node, f.pfn, f.order), '')
      redis.call('HINCRBY', KEYS[3], 'nrpages', n)
      redis.call('HINCRBY', 'mmsim:{node:' .. f.node .. '}:vmstat', 'mmsim_pfn_entry_pages', n)
      shared, pages = shared + 1, pages + n
    end
  end
end
xa_commit(dxa)
return {shared, pages, skipped}
"""

# break the sharing of one folio: the new private copy replaces it in this mapping (cmpxchg semantics)
_REPLACE = """
local ino = fm_inode(KEYS[1])
local xa = xa_open(KEYS[2], ARGV[1])
vm_spans(ARGV[2])
local f = fm_lookup(xa, ino, tonumber(ARGV[3]))
local old_pfn, node, pfn = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if f.kind ~= 'folio' or f.pfn ~= old_pfn then return {'changed'} end
vm_node(node)
local lost = ledger_check_take(pfn, ARGV[9])   -- the copy leaves the in-flight ledger here
if lost then fm_fail('FailedPrecondition', lost) end
ledger_drop(pfn)
fm_store(xa, ino, f.index, f.order, fm_entry(node, pfn, f.order), 'folio')
redis.call('COPY', 'mmsim:{node:' .. f.node .. '}:mem:' .. f.pfn, 'mmsim:{node:' .. node .. '}:mem:' .. pfn, 'REPLACE')
vm_node(node)
page_flags_set(pfn, tonumber(ARGV[7]))
page_set_field(pfn, 'mapping', mapping_intern(ARGV[8]))
page_set_field(pfn, 'index', f.index)
LRU.add(node, pfn, fm_pow2(f.order), false)
redis.call('HINCRBY', 'mmsim:{node:' .. node .. '}:vmstat', 'nr_file_pages', fm_pow2(f.order))
if fm_release_folio(f, 'mmsim:{node:' .. f.node .. '}:vmstat') then fm_freed(f) end
return fm_commit_reply(xa, f.index, f.order)
"""


@dataclass(frozen=True)
class Fill:
    """What a populate's AddFolio does in the insert's step besides the insert (AddFolioRequest's fields)."""

    contents: bytes | None = None           # the folio's bytes (None: the caller stored them)
    count_alloc: bool = False               # count the allocation (and fallback_orders' failures)
    fallback_orders: tuple[int, ...] = ()   # orders whose allocation failed first
    unlock: bool = False                    # release the caller's lock (the fence) once the folio is in


@dataclass(frozen=True)
class Added:
    """An insert's answer: mapping->nrpages after it (zero pages for a zero entry) and, when it released the
    caller's lock, whether that lock was still held and the waiters it woke."""

    nrpages: int
    unlocked: bool = False
    woken: int = 0


def _unlocked(rest) -> tuple[bool, int]:
    return (bool(int(rest[0])), int(rest[1])) if rest else (False, 0)


def _seq(trunc_seq: int | None) -> str:
    return "" if trunc_seq is None else str(trunc_seq)


def _check_stale(mapping: str, rec) -> None:
    if isinstance(rec, list) and rec and rec[0] == b"STALE":
        raise Aborted(f"{mapping} was truncated since the caller read it (trunc_seq {int(rec[2])} -> {int(rec[1])}): "
                      "free the folio and look the inode up again")


def _freed(rec) -> list[Folio]:
    return [Folio(int(rec[i]), int(rec[i + 1]), int(rec[i + 2])) for i in range(0, len(rec), 3)]


def _found(rec, with_tags: bool) -> Found | None:
    _, kind, node, pfn, order, index, tags = rec
    if not kind:
        return None
    tag_set = tuple(t for t in Tag if tags and tags[t.mark:t.mark + 1] == b"1") if with_tags else ()
    folio = Folio(int(node), int(pfn), int(order)) if kind in (b"folio", b"shared") else None
    return Found(int(index), folio, int(order), tag_set, shared=kind == b"shared")


def check_index(index: int) -> int:
    require(0 <= index <= MAX_FILE_INDEX, f"index {index} is beyond the largest file index {MAX_FILE_INDEX}")
    return index


_FENCED = frozenset({"add_folio", "add_zero", "tag", "truncate", "invalidate", "share", "replace"})
"""Scripts that change a mapping's cache: each checks the fencing token of the lock its caller holds on the
mapping (mmsim.runtime.locks.fence_for, from the held locks in the call's metadata) before any write."""


class PageCache:
    """The page cache of every mapping, over one Redis (models struct address_space->i_pages)."""

    def __init__(self, client, settings: config.Settings):
        self._redis = client
        self._cs = settings.xa_chunk_shift
        self.layout = Layout.build(settings.memory_bytes, settings.numa_nodes, settings.movable_bytes)
        self._spans = node_spans(self.layout)
        self._scripts = {name: Script(client, FILEMAP_LUA + body, fenced=name in _FENCED) for name, body in (
            ("lookup", _LOOKUP), ("add_folio", _ADD_FOLIO), ("add_zero", _ADD_ZERO), ("tag", _TAG),
            ("find_tagged", _FIND_TAGGED), ("stats", _STATS),
            ("invalidate", _INVALIDATE), ("share", _SHARE), ("replace", _REPLACE))}
        self._scripts["truncate"] = Script(client, TRUNCATE_LUA + _TRUNCATE, fenced=True)
        self._nonuniform = ",".join(p.name for p in profiles.PROFILES.values() if p.folio_split == "non-uniform")

    @staticmethod
    def _keys(mapping: str) -> list[str]:
        return [keys.mapping(mapping, "inode"), keys.mapping(mapping, "xa")]

    def xarray(self, mapping: str) -> xarray.XArray:
        return xarray.XArray(self._redis, keys.mapping(mapping, "xa"), self._cs)

    async def fault_lookup(self, mapping: str, index: int, write: bool = False, around_start: int = 0,
                           around_pages: int = 0) -> FaultLookup:
        """filemap_fault's EOF check and filemap_get_folio, and filemap_map_pages's look at the fault-around
        window, in one round trip; a miss (or a write to a zero entry) counts pgmajfault, as filemap_fault does."""
        rec = await self._scripts["lookup"]([*self._keys(mapping), keys.node(0, "vmstat")],
                                            [self._cs, check_index(index), 0, self._spans, "write" if write else "read",
                                             around_start, around_pages])
        around = tuple(Found(int(rec[i + 3]), Folio(int(rec[i]), int(rec[i + 1]), int(rec[i + 2])), int(rec[i + 2]))
                       for i in range(7, len(rec), 4))
        return FaultLookup(index, int(rec[0]), _found(rec[:7], False), around)

    async def lookup(self, mapping: str, index: int) -> Found | None:
        """models filemap_get_entry: what covers index, None when nothing does (NOT_FOUND: no such mapping)."""
        rec = await self._scripts["lookup"]([*self._keys(mapping), keys.node(0, "vmstat")],
                                            [self._cs, check_index(index), 1, self._spans, ""])
        return _found(rec, True)

    async def find_folio(self, mapping: str, index: int) -> Found:
        """:meth:`lookup`, NOT_FOUND when nothing covers index."""
        found = await self.lookup(mapping, index)
        if found is None:
            raise NotFound(f"no folio at index {index} of {mapping}")
        return found

    async def add_folio(self, mapping: str, index: int, folio, trunc_seq: int | None = None, trace: str = "") -> int:
        """:meth:`insert_folio` without a fill: mapping->nrpages after the insert."""
        return (await self.insert_folio(mapping, index, folio, trunc_seq, trace)).nrpages

    async def add_zero_entry(self, mapping: str, index: int, order: int, trunc_seq: int | None = None) -> int:
        """:meth:`insert_zero`: the mapping's zero pages after the insert."""
        return (await self.insert_zero(mapping, index, order, trunc_seq)).nrpages

    async def insert_folio(self, mapping: str, index: int, folio, trunc_seq: int | None = None, trace: str = "",
                           fill: Fill | None = None) -> Added:
        """models __filemap_add_folio: ALREADY_EXISTS (the kernel's -EEXIST) when another folio is there;
        ABORTED when ``trunc_seq`` is given and a truncate ran since the caller read it. An in-flight folio
        (the allocator's ledger) is taken over in the same step; FAILED_PRECONDITION when it is in flight for
        another trace or was reclaimed (free) meanwhile. ``fill``: a populate's contents, allocation counts
        and lock release, in the same step."""
        require(0 <= folio.order <= MAX_PAGECACHE_ORDER,
                f"folio order {folio.order} is above MAX_PAGECACHE_ORDER {MAX_PAGECACHE_ORDER}")
        f = fill or Fill()
        rec = await self._scripts["add_folio"](
            [*self._keys(mapping), keys.node(folio.node, "vmstat")],
            [self._cs, check_index(index), folio.order, folio.node, folio.pfn, self._spans, _ADDED_FLAGS, mapping,
             _seq(trunc_seq), trace, int(f.contents is not None), f.contents or b"", int(f.count_alloc),
             ",".join(map(str, f.fallback_orders)), int(f.unlock)], fence=locks.fence_for(mapping))
        _check_stale(mapping, rec)
        if rec[0] == b"EEXIST":
            raise AlreadyExists(f"index {index} of {mapping} is already cached: folio pfn {int(rec[2])} "
                                f"order {int(rec[3])} at index {int(rec[4])} won the race; free yours")
        return Added(int(rec[1]), *_unlocked(rec[2:]))

    async def insert_zero(self, mapping: str, index: int, order: int, trunc_seq: int | None = None,
                          unlock: bool = False) -> Added:
        """Insert a zero entry (a known hole, no page) covering 2**order pages; ``nrpages`` of the answer is the
        mapping's zero pages. ``unlock``: release the caller's lock in the same step."""
        require(0 <= order <= MAX_PAGECACHE_ORDER, f"zero entry order {order} is above {MAX_PAGECACHE_ORDER}")
        rec = await self._scripts["add_zero"]([*self._keys(mapping), keys.node(0, "vmstat")],
                                              [self._cs, check_index(index), order, _seq(trunc_seq), int(unlock)],
                                              fence=locks.fence_for(mapping))
        _check_stale(mapping, rec)
        return Added(int(rec[0]), *_unlocked(rec[1:]))

    async def tag_folio(self, mapping: str, index: int, tag: Tag, clear: bool = False) -> None:
        """folio_mark_dirty / __folio_start_writeback / folio_end_writeback on the XArray marks."""
        await self._scripts["tag"](self._keys(mapping), [self._cs, check_index(index), tag.mark, int(clear), self._spans],
                                   fence=locks.fence_for(mapping))

    async def find_tagged(self, mapping: str, tag: Tag, start: int, limit: int) -> list[Found]:
        rec = await self._scripts["find_tagged"](self._keys(mapping), [self._cs, check_index(start), tag.mark, limit])
        out = [Found(int(rec[i + 3]), Folio(int(rec[i]), int(rec[i + 1]), int(rec[i + 2])), int(rec[i + 2]), (tag,))
               for i in range(0, len(rec), 4)]
        return out[:limit]

    async def truncate_range(self, mapping: str, lstart: int, lend: int | None) -> TruncateResult:
        """truncate_inode_pages_range(mapping, lstart, lend); lend None = to EOF: whole folios deleted (and
        unmapped), partial ones zeroed and split (PTEs retargeted) or, where the split is refused, unmapped
        and deleted if clean. One round trip. The caller gives ``freed`` back to the allocator."""
        require(lstart >= 0 and (lend is None or lend >= lstart), f"bad range {lstart}..{lend}")
        rec = await self._scripts["truncate"](self._keys(mapping), [self._cs, lstart, -1 if lend is None else lend,
                                                                    self._spans, mapping, self._nonuniform],
                                              fence=locks.fence_for(mapping))
        return TruncateResult(*(int(x) for x in rec[:5]), rec[5].decode(), tuple(_freed(rec[6:])))

    async def invalidate(self, mapping: str) -> tuple[int, int, list[Folio]]:
        """invalidate_mapping_pages(mapping, 0, -1): (folios removed, folios kept busy, folios to free)."""
        rec = await self._scripts["invalidate"](self._keys(mapping), [self._cs, self._spans], fence=locks.fence_for(mapping))
        return int(rec[0]), int(rec[1]), _freed(rec[2:])

    async def share_folios(self, src: str, src_index: int, dst: str, dst_index: int, nr_pages: int) -> dict:
        """PFN entries: give ``dst`` entries for ``src``'s clean folios in the range (one atomic step)."""
        require(nr_pages > 0, f"nr_pages must be positive, got {nr_pages}")
        check_index(src_index + nr_pages - 1)
        check_index(dst_index + nr_pages - 1)
        allowed = ",".join(p.name for p in profiles.PROFILES.values() if p.pfn_entries)
        rec = await self._scripts["share"]([*self._keys(src), *self._keys(dst)],
                                           [self._cs, src_index, dst_index, nr_pages, self._spans, allowed],
                                           fence=locks.fence_for(dst))
        return {"folios_shared": int(rec[0]), "pages_shared": int(rec[1]), "folios_skipped": int(rec[2])}

    async def replace_shared(self, mapping: str, index: int, old: Folio, new: Folio,
                             trace: str = "") -> tuple[int, list[Folio]] | None:
        """Put the private copy ``new`` (same order, already allocated) where the shared ``old`` was, copying
        its bytes; returns (folio index, folios to free) or None when ``old`` is no longer there."""
        rec = await self._scripts["replace"](self._keys(mapping), [self._cs, self._spans, check_index(index), old.pfn,
                                                                   new.node, new.pfn, _ADDED_FLAGS, mapping, trace],
                                             fence=locks.fence_for(mapping))
        if rec[0] == b"changed":
            return None
        return int(rec[0]), _freed(rec[2:])

    async def stats(self, mapping: str) -> dict:
        """Entries, nodes, height, Redis bytes and the tags set anywhere (mapping_tagged: xa_marked) of the
        mapping's XArray (`mmsim xa stats`)."""
        rec = await self._scripts["stats"](self._keys(mapping), [self._cs])
        entries, folios, holes, nodes, height, nrpages, zero_pages, mode, tagged = rec
        return {"mapping": mapping, "indexing": mode.decode(), "chunk_shift": self._cs, "entries": entries,
                "folio_entries": folios, "zero_entries": holes, "nodes": nodes, "height": height,
                "redis_bytes": await self.xarray(mapping).memory_bytes(), "nrpages": nrpages,
                "zero_pages": zero_pages, "tagged": [t.value for t in Tag if tagged[t.mark] == ord("1")]}

