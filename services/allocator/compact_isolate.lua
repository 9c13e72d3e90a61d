-- compaction's migrate scanner over one zone (mm/compaction.c isolate_migratepages / isolate_migratepages_block,
-- with suitable_migration_target's view of the candidate block), one atomic step: from `cursor` upward, find
-- the first aligned block of 2^order pages whose every page is free or movable, and isolate its free pieces
-- (taken off the free lists as allocations owned by the in-flight ledger, 'compact-isolated': no allocation
-- can take them while its movable pages are migrated out, and a compactor that dies leaves them to the
-- ledger's recovery pass). Runs after the vmemmap and buddy libraries.
--
-- Movable: a page-cache folio (->mapping set, one mapping; the migrate step checks its references), an
-- anonymous page on the LRU (PAGE_MAPPING_ANON, PG_lru: isolate_migratepages_block takes LRU folios; the migrate
-- step checks its references against its PTEs) and a movable page of the fragmenter (its 'frag:movable' set, a
-- balloon-like driver's non-LRU movable pages). Anything else (a kernel allocation, kvmalloc, an anonymous
-- page not on the LRU, a page shared through PFN entries, a block in flight, an allocation larger than the
-- block) is unmovable, and the scanner skips the rest of its pageblock as isolate_migratepages_block does.
-- Reply: {'found', block pfn, pages scanned, n pieces, (pfn, order) * n, (kind, pfn, order) of each movable
--         allocation ('cache' | 'anon' | 'movable')} | {'free', block pfn, scanned} (the block is already free)
--       | {'none', next cursor, scanned, unmovable pageblocks skipped}
vm_init(KEY.prefix, ARG.node_start, ARG.node_end)
PREFIX = KEY.prefix
parse_zones(ARG.zones)
local ORDER, ZONE = tonumber(ARG.order), ARG.zone
local SIZE = 2 ^ ORDER
local pfn, stop, budget = tonumber(ARG.cursor), tonumber(ARG.stop), tonumber(ARG.budget)
local scanned, skipped = 0, 0
local OWNER, LEDGER, MOVABLE = PREFIX .. 'owner', PREFIX .. 'ledger', PREFIX .. 'frag:movable'

local function I(n) return string.format('%d', n) end

-- what the allocation headed by p is: 'cache', 'movable', or nil (unmovable); o its order
local function classify(p, o, pg)
  if o > ORDER or redis.call('HEXISTS', LEDGER, I(p)) == 1 then return nil end
  if redis.call('SISMEMBER', MOVABLE, I(p)) == 1 then return 'movable' end
  if pg.w2 > 0 and pg.w2 % 2 == 0 and pg.w2 ~= MAPPING_SHARED and pg.refcount >= 1 then return 'cache' end   -- ->mapping: one interned name
  if pg.w2 % 2 == 1 and pg.refcount >= 1 and bit.band(pg.flags, COMPACT_PG_LRU) ~= 0 then return 'anon' end   -- anon_vma | PAGE_MAPPING_ANON
  return nil
end

-- the block [start, start + SIZE): its free pieces and movable allocations, or nil when something in it is unmovable
local function scan_block(start)
  local pieces, movable, p = {}, {}, start
  while p < start + SIZE do
    local pg = page_get(p)
    scanned = scanned + 1
    if page_is_type(pg, PT_BUDDY) then
      pieces[#pieces + 1] = {p, pg.w4, pg.w1}
      p = p + 2 ^ pg.w4
    else
      local own = redis.call('HGET', OWNER, I(p))
      if not own then return nil end   -- inside an allocation that starts before the block
      local o = tonumber(string.match(own, '^(%d+)'))
      local kind = classify(p, o, pg)
      if not kind then return nil end
      movable[#movable + 1] = {kind, p, o}
      p = p + 2 ^ o
    end
  end
  return pieces, movable
end

while pfn + SIZE <= stop and scanned < budget do
  local pieces, movable = scan_block(pfn)
  if pieces and #movable == 0 then
    redis.call('HINCRBY', PREFIX .. 'vmstat', 'compact_migrate_scanned', scanned)
    return {'free', I(pfn), scanned}
  end
  if pieces then
    local out = {'found', I(pfn), scanned, #pieces}
    for _, x in ipairs(pieces) do
      local p, o, mt = x[1], x[2], x[3]
      redis.call('ZREM', free_key(ZONE, o, mt), p)
      redis.call('HINCRBY', PREFIX .. 'zone:' .. ZONE, 'nr_free:' .. o, -1)
      redis.call('HINCRBY', PREFIX .. 'zone:' .. ZONE, 'nr_free_pages', -(2 ^ o))
      page_put(p, {flags=0, mapcount=-1, w0=0, w1=0, w2=0, w3=0, w4=0, refcount=1, memcg=0})
      redis.call('HSET', OWNER, I(p), I(o) .. ':0')
      ledger_put(p, o, 'compact-isolated', ARG.trace)
      out[#out + 1] = I(p); out[#out + 1] = I(o)
    end
    for _, m in ipairs(movable) do out[#out + 1] = m[1]; out[#out + 1] = I(m[2]); out[#out + 1] = I(m[3]) end
    redis.call('HINCRBY', PREFIX .. 'vmstat', 'compact_migrate_scanned', scanned)
    return out
  end
  skipped = skipped + 1
  local next_block = pfn - pfn % 512 + 512   -- an unmovable page: the rest of its pageblock is skipped
  pfn = math.max(pfn + SIZE, next_block)
end
redis.call('HINCRBY', PREFIX .. 'vmstat', 'compact_migrate_scanned', scanned)
return {'none', I(pfn), scanned, skipped}
