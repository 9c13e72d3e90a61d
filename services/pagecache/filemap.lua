-- mmsim page-cache library (models mm/filemap.c over the XArray library, which must precede it).
-- A folio entry is 'p<node>:<pfn>:<order>'; a hole is the zero entry FM_HOLE, a value entry like
-- DAX_ZERO_PAGE (fs/dax.c): it occupies the range, reads as zeros, and owns no page.
-- FM_LRU_FLAGS (PG_lru | PG_dirty and the LRU state bits: PG_active, PG_referenced, PG_workingset, PG_reclaim),
-- FM_PG_ACTIVE, FM_TAG_FLAGS (PG_dirty, PG_writeback by mark) and FM_SHARED (the ->mapping of a folio shared through PFN entries)
-- are defined by filemap.py from the allocator's tables.
-- Page indices are plain Lua numbers here: file indices stay below 2^52 (MAX_LFS_FILESIZE >> PAGE_SHIFT).

local FM_HOLE = 'v4'

local function fm_fail(code, msg) error('MMSIM ' .. code .. ' ' .. msg, 0) end
local function fm_hex(n) return string.format('%016x', n) end
local function fm_pow2(order) return XA_POW2[order] end

-- the inode fields the page cache needs (written by the filesystem service)
local function fm_inode(key)
  local h = redis.call('HMGET', key, 'i_size', 'indexing', 'nrpages', 'zero_pages')
  if not h[1] then fm_fail('NotFound', 'no such file: ' .. key) end
  return {key = key, i_size = tonumber(h[1]), mode = h[2] or 'multi-order',
          nrpages = tonumber(h[3]) or 0, zero_pages = tonumber(h[4]) or 0}
end

-- a seqcount check (read_seqcount_retry-like): the caller read data_seq with the blocks it filled its folio
-- from; a truncate, a hole punch or a write of the blocks (writeback) bumped it since. Returns the 'stale' reply, or nil when `seen` is '' or current.
local function fm_stale(key, seen)
  if seen == nil or seen == '' then return nil end
  local cur = redis.call('HGET', key, 'data_seq') or '0'
  if cur ~= seen then return {'stale', cur, seen} end
  return nil
end

-- the XArray index that holds file page `index`: hugetlbfs indexes in huge-page units
local function fm_slot(ino, index)
  if ino.mode == 'hugetlb' then return math.floor(index / 512) end
  return index
end

local function fm_entry(node, pfn, order) return 'p' .. node .. ':' .. pfn .. ':' .. order end

local function fm_parse(e)
  local node, pfn, order = e:match('^p(%d+):(%d+):(%d+)$')
  return tonumber(node), tonumber(pfn), tonumber(order)
end

-- models filemap_get_entry: what covers file page `index`
local function fm_lookup(xa, ino, index)
  local slot = fm_hex(fm_slot(ino, index))
  local e = xa_load(xa, slot)
  if e == '' then return {kind = ''} end
  if e:byte(1) == 112 then
    local node, pfn, order = fm_parse(e)
    return {kind = 'folio', node = node, pfn = pfn, order = order,
            index = index - index % fm_pow2(order), slot = slot}
  end
  if e == FM_HOLE then
    local order = xa_get_order(xa, slot)
    return {kind = 'hole', order = order, index = index - index % fm_pow2(order), slot = slot}
  end
  -- any other value entry is a workingset shadow (mm/workingset.c pack_shadow), left by reclaim
  local order = xa_get_order(xa, slot)
  return {kind = 'shadow', value = e, order = order, index = index - index % fm_pow2(order), slot = slot}
end

-- The per-node LRU lists (struct lruvec, memcg-free): sorted sets {node:N}:lru:inactive_file and
-- :lru:active_file of folio head pfns, score = the node's LRU clock ({node:N}:lruvec 'seq') when the folio went
-- on: the highest score is the list head (lruvec_add_folio adds there), the lowest the tail reclaim isolates
-- from. PG_active says which list; vmstat nr_inactive_file / nr_active_file count the pages on each.
-- Functions are fields of LRU (the truncation script is near Lua's 200-locals limit).
local LRU = {}
function LRU.key(node, s) return string.format('mmsim:{node:%d}:%s', node, s) end

function LRU.add(node, pfn, nr, active)
  vm_node(node)
  local list = active and 'active_file' or 'inactive_file'
  local seq = redis.call('HINCRBY', LRU.key(node, 'lruvec'), 'seq', 1)
  redis.call('ZADD', LRU.key(node, 'lru:' .. list), seq, string.format('%d', pfn))
  redis.call('HINCRBY', LRU.key(node, 'vmstat'), 'nr_' .. list, nr)
  if active then page_flags_set(pfn, FM_PG_ACTIVE) else page_flags_clear(pfn, FM_PG_ACTIVE) end
end

-- lruvec_del_folio: off whichever list holds it (nothing when it is on none)
function LRU.del(node, pfn, nr)
  local m = string.format('%d', pfn)
  for _, list in ipairs({'inactive_file', 'active_file'}) do
    if redis.call('ZREM', LRU.key(node, 'lru:' .. list), m) == 1 then
      redis.call('HINCRBY', LRU.key(node, 'vmstat'), 'nr_' .. list, -nr)
      return
    end
  end
end

-- a piece of a split folio goes on its parent's list next to it (lru_add_split_folio); the pages were counted
function LRU.add_piece(node, head, piece)
  for _, list in ipairs({'inactive_file', 'active_file'}) do
    local k = LRU.key(node, 'lru:' .. list)
    local score = redis.call('ZSCORE', k, string.format('%d', head))
    if score then redis.call('ZADD', k, score, string.format('%d', piece)); return end
  end
end

-- XArray entries one store of 2^order pages takes in this mapping's indexing mode
local function fm_nslots(ino, order)
  if ino.mode == 'order-0' then return fm_pow2(order) end
  return 1
end

local function fm_kind(entry)
  if entry == '' then return '' elseif entry == FM_HOLE then return 'hole' elseif entry:byte(1) == 118 then return 'shadow' end
  return 'folio'
end

-- store `entry` over pages [first, first + 2^order) as the indexing mode lays it out, replacing an entry
-- of kind `was` ('' nothing, 'folio', 'hole'); the inode keeps the entry counts `mmsim xa stats` reports
local function fm_store(xa, ino, first, order, entry, was)
  if ino.mode == 'hugetlb' then
    xa_store(xa, fm_hex(fm_slot(ino, first)), 0, entry)
  elseif ino.mode == 'order-0' then
    for i = 0, fm_pow2(order) - 1 do xa_store(xa, fm_hex(first + i), 0, entry) end
  else
    xa_store(xa, fm_hex(first), order, entry)
  end
  local n, now = fm_nslots(ino, order), fm_kind(entry)
  if was ~= now then
    if was ~= '' then redis.call('HINCRBY', ino.key, 'xa_' .. was .. '_entries', -n) end
    if now ~= '' then redis.call('HINCRBY', ino.key, 'xa_' .. now .. '_entries', n) end
  end
end

-- cover pages [from, to] with hole entries (or `entry`, another value entry) of the largest aligned orders (at most 9)
local function fm_store_holes(xa, ino, from, to, entry)
  while from <= to do
    local order = 0
    while order < 9 and from % fm_pow2(order + 1) == 0 and from + fm_pow2(order + 1) - 1 <= to do
      order = order + 1
    end
    fm_store(xa, ino, from, order, entry or FM_HOLE, '')
    from = from + fm_pow2(order)
  end
end

-- the entries overlapping pages [first, last], as {slot hex, entry} (multi-index entries once)
local function fm_overlapping(xa, ino, first, last)
  local out = {}
  local lastslot = fm_hex(fm_slot(ino, last))
  local idx, e = xa_find(xa, fm_hex(fm_slot(ino, first)), lastslot, nil)
  while idx do
    out[#out + 1] = {idx, e}
    idx, e = xa_find_after(xa, idx, lastslot, nil)
  end
  return out
end

-- remove a hole entry; re-cover the part of it outside [first, last]; the inode's zero_pages loses the
-- pages removed (returned)
local function fm_punch_hole_entry(xa, ino, slothex, first, last)
  local order = xa_get_order(xa, slothex)
  local hs = tonumber(slothex, 16)
  hs = hs - hs % fm_pow2(order)       -- xa_find reports where it started, not the canonical index
  local he = hs + fm_pow2(order) - 1
  fm_store(xa, ino, hs, order, '', 'hole')
  if hs < first then fm_store_holes(xa, ino, hs, first - 1) end
  if he > last then fm_store_holes(xa, ino, last + 1, he) end
  local removed = math.min(he, last) - math.max(hs, first) + 1
  redis.call('HINCRBY', ino.key, 'zero_pages', -removed)
  return removed
end

-- a folio cached by several mappings through PFN entries: ->mapping is FM_SHARED and ->index counts the
-- mappings (fs/dax.c keeps a shared DAX folio the same way: no single mapping, a share count). When the
-- count is back to 1 the last mapping owns it alone: writes need no copy.
local function fm_shares(f)
  vm_node(f.node)
  if page_get_field(f.pfn, 'mapping') ~= FM_SHARED then return 1 end
  return page_get_field(f.pfn, 'index')
end

local function fm_is_shared(f)
  return fm_shares(f) > 1
end

-- models filemap_free_folio for one mapping's reference: drop one share (the folio stays cached by
-- another mapping) or clear folio->mapping and take it off the LRU, then drop the reference.
-- Returns true when that was the last reference (the caller gives the folio back to the allocator).
local function fm_release_folio(f, vmstat_key)
  local shares = fm_shares(f)
  if shares > 1 then
    page_set_field(f.pfn, 'index', shares - 1)
  else
    local nr = fm_pow2(f.order)
    redis.call('HINCRBY', vmstat_key, 'nr_file_pages', -nr)
    if f.order == 9 then redis.call('HINCRBY', vmstat_key, 'nr_file_hugepages', -1) end
    page_set_field(f.pfn, 'mapping', 0)
    LRU.del(f.node, f.pfn, nr)
    page_flags_clear(f.pfn, FM_LRU_FLAGS)   -- off the LRU (lruvec_del_folio), no longer dirty
  end
  if page_get_field(f.pfn, 'refcount') == 1 then return true end
  page_ref_add(f.pfn, -1)
  return false
end

-- the DIRTY and WRITEBACK tags are accounted like folio_account_dirtied / __folio_start_writeback:
-- NR_FILE_DIRTY / NR_WRITEBACK (nr_dirty, nr_writeback) and PG_dirty / PG_writeback on the folio.
-- Functions are fields of FM_TAG (Lua's 200-locals limit, as LRU's).
local FM_TAG = {stats = {[0] = 'nr_dirty', [1] = 'nr_writeback'}}
function FM_TAG.account(f, mark, sign)
  local item = FM_TAG.stats[mark]
  if not item then return end
  redis.call('HINCRBY', 'mmsim:{node:' .. f.node .. '}:vmstat', item, sign * fm_pow2(f.order))
  vm_node(f.node)
  if sign > 0 then page_flags_set(f.pfn, FM_TAG_FLAGS[mark]) else page_flags_clear(f.pfn, FM_TAG_FLAGS[mark]) end
end

-- folio_mark_dirty / __folio_start_writeback / folio_end_writeback: set (on) or clear XArray mark `mark` on
-- the folio's entries (each of its order-0 entries in the order-0 indexing), accounted once
function FM_TAG.set(xa, ino, f, mark, on)
  if xa_get_mark(xa, f.slot, mark) ~= on then FM_TAG.account(f, mark, on and 1 or -1) end
  local slots = {f.slot}
  if ino.mode == 'order-0' then
    slots = {}
    for i = 0, fm_pow2(f.order) - 1 do slots[#slots + 1] = fm_hex(f.index + i) end
  end
  for _, s in ipairs(slots) do
    if on then xa_set_mark(xa, s, mark) else xa_clear_mark(xa, s, mark) end
  end
end

-- models page_cache_delete: erase the folio's entries from this mapping, then fm_release_folio
local function fm_delete_folio(xa, ino, f, vmstat_key)
  for mark = 0, 1 do
    if xa_get_mark(xa, f.slot, mark) then FM_TAG.account(f, mark, -1) end
  end
  fm_store(xa, ino, f.index, f.order, '', 'folio')
  local nr = fm_pow2(f.order)
  ino.nrpages = ino.nrpages - nr
  redis.call('HINCRBY', ino.key, 'nrpages', -nr)
  return fm_release_folio(f, vmstat_key)
end

-- the folios (each once) and holes overlapping pages [first, last]
local function fm_entries(xa, ino, first, last)
  local out, seen = {}, {}
  for _, o in ipairs(fm_overlapping(xa, ino, first, last)) do
    local page = tonumber(o[1], 16)
    if ino.mode == 'hugetlb' then page = page * 512 end
    local f = fm_lookup(xa, ino, math.max(page, first))
    local id = f.kind .. ':' .. f.index
    if f.kind ~= '' and not seen[id] then seen[id] = true; out[#out + 1] = f end
  end
  return out
end

-- remember a folio whose last reference went, for the caller to free; until its FreePages it is owned
-- by the in-flight ledger (a caller that dies in between leaves it to the recovery pass)
local FM_FREED = {}
local function fm_freed(f)
  vm_node(f.node)
  ledger_put(f.pfn, f.order, 'cache-free', '')
  FM_FREED[#FM_FREED + 1] = f.node; FM_FREED[#FM_FREED + 1] = f.pfn; FM_FREED[#FM_FREED + 1] = f.order
end

-- delete a folio (fm_delete_folio) and remember it when that dropped its last reference
local function fm_remove(xa, ino, f)
  if fm_delete_folio(xa, ino, f, 'mmsim:{node:' .. f.node .. '}:vmstat') then fm_freed(f) end
end

-- commit the XArray and answer {a, b, node, pfn, order, ...} with the folios the caller must free
local function fm_commit_reply(xa, a, b)
  xa_commit(xa)
  local out = {a, b}
  for _, x in ipairs(FM_FREED) do out[#out + 1] = x end
  return out
end
