-- compaction's migration of one block's movable allocations (mm/migrate.c migrate_pages -> migrate_folio_unmap /
-- migrate_folio_move: folio_migrate_mapping, folio_migrate_flags, remove_migration_ptes; for a non-LRU movable
-- page its driver's movable_operations->migrate_page), one atomic step. Runs after the page cache's libraries
-- (xarray, vmemmap with the ledger, filemap with the LRU) and the reverse map's (RMAP_LUA_LIB,
-- RMAP_WALK_LUA_LIB).
--
-- Each move names an old allocation and its destination (allocated by the caller, in the in-flight ledger as
-- 'compact'). A page-cache folio moves only when it is still what the scanner saw and has no reference beyond
-- the page cache's and its PTEs' (folio_expected_refs: a pinned folio stays, migrate_folio_unmap's -EAGAIN),
-- no other task is inside its file (i_rwsem held: its copy would hold a reference) and it is not under
-- writeback; then its bytes, struct page state (flags, ->mapping, ->index, _refcount, every
-- page's _mapcount), XArray entry (its marks stay), LRU place and page_owner record go to the destination, and
-- every PTE mapping it points at the same page of the destination (the migration entry replaced at once).
-- An anonymous page moves the same way without an XArray entry: its PTEs are found through its anon_vma
-- (rmap_walk_anon), its references must be exactly those PTEs', and its place on the anon LRU moves with it.
-- A fragmenter's movable page moves with its set membership. The old allocation is left as a plain allocated
-- block in the ledger ('compact-free') and the destination leaves the ledger; a move refused leaves its
-- destination in the ledger. The caller frees both lists (nothing is ever unowned).
-- Reply: {'ok', pages migrated, PTEs moved, pages refused, (node, pfn, order) of every block to free...}
local function main()
  vm_spans(ARG.spans)
  local NODE = tonumber(ARG.node)
  local CS, TRACE = ARG.chunk_shift, ARG.trace
  local MOVABLE = 'mmsim:{node:' .. I(NODE) .. '}:frag:movable'
  local OWNER = 'mmsim:{node:' .. I(NODE) .. '}:owner'
  local migrated, ptes_moved, refused = 0, 0, 0
  local free = {}
  local function to_free(pfn, order) free[#free + 1] = I(NODE); free[#free + 1] = I(pfn); free[#free + 1] = I(order) end

  -- the old block becomes a plain allocation (refcount 1, no mapping, no LRU flags) owned by the ledger
  local function release_old(old, order, head_flags)
    for i = 1, 2 ^ order - 1 do page_set_field(old + i, 'mapcount', -1) end
    page_set_field(old, 'mapcount', -1)
    page_set_field(old, 'mapping', 0)
    page_set_field(old, 'index', 0)
    page_set_field(old, 'refcount', 1)
    page_set_field(old, 'flags', bit.band(head_flags, PG_HEAD))
    ledger_put(old, order, 'compact-free', TRACE)
    to_free(old, order)
  end

  -- another task inside the file (i_rwsem held: a read(2) or write(2) copying through the folio, writeback
  -- reading it) would hold a reference on it while it copies: folio_expected_refs would fail. The compacting
  -- task's own hold (a writer whose allocation compacts) is between two copies.
  local function file_busy(mapping)
    local h = redis.call('HGETALL', map_key(mapping, 'lock:i_rwsem'))
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local f = {}
    for i = 1, #h, 2 do f[h[i]] = h[i + 1] end
    if f.w and tonumber(f.w_exp or '-1') >= now and f.w_owner ~= TRACE then return true end
    for k, v in pairs(f) do
      if string.sub(k, 1, 2) == 'r:' and tonumber(v) >= now and f['ro:' .. string.sub(k, 3)] ~= TRACE then return true end
    end
    return false
  end

  -- the page-cache folio at old, or nil when it may not move
  local function cache_folio(old, order)
    local p = page_get(old)
    if page_is_type(p, PT_BUDDY) or p.w2 <= 0 or p.w2 == MAPPING_SHARED then return nil end
    local mapping = mapping_name(p.w2)
    if not mapping or redis.call('EXISTS', map_key(mapping, 'inode')) == 0 or file_busy(mapping) then return nil end
    local ino, xa = fm_inode(map_key(mapping, 'inode')), xa_open(map_key(mapping, 'xa'), CS)
    local f = fm_lookup(xa, ino, p.w3)
    if f.kind ~= 'folio' or f.pfn ~= old or f.node ~= NODE or f.order ~= order then return nil end
    if xa_get_mark(xa, f.slot, 1) then return nil end   -- under writeback
    local ptes = rm_folio_ptes(mapping, f.index, 2 ^ order, NODE, old)
    vm_node(NODE)
    if p.refcount ~= 1 + #ptes then return nil end      -- folio_expected_refs: pinned, or in a counted run
    f.p, f.mapping, f.ino, f.xa, f.ptes = p, mapping, ino, xa, ptes
    return f
  end

  -- folio_migrate_mapping's LRU part, folio_migrate_flags, the copy and remove_migration_ptes, shared by both kinds
  -- of LRU folio (p: the old head's struct page, ptes: every PTE mapping the folio, lists: the LRU lists it may be
  -- on): the LRU place (same list, same age); bytes, flags, ->mapping / ->index, references, each page's
  -- _mapcount and the page_owner record; every PTE maps the same page of the destination
  local function move_folio(old, order, dst, p, ptes, lists)
    for _, list in ipairs(lists) do
      local score = redis.call('ZSCORE', LRU.key(NODE, 'lru:' .. list), I(old))
      if score then
        redis.call('ZREM', LRU.key(NODE, 'lru:' .. list), I(old))
        redis.call('ZADD', LRU.key(NODE, 'lru:' .. list), score, I(dst))
      end
    end
    local mem = 'mmsim:{node:' .. I(NODE) .. '}:mem:'
    if redis.call('EXISTS', mem .. I(old)) == 1 then redis.call('RENAME', mem .. I(old), mem .. I(dst))
    else redis.call('DEL', mem .. I(dst)) end
    vm_node(NODE)
    page_set_field(dst, 'flags', p.flags)
    page_set_field(dst, 'mapping', p.w2)
    page_set_field(dst, 'index', p.w3)
    page_set_field(dst, 'refcount', p.refcount)
    for i = 0, 2 ^ order - 1 do page_set_field(dst + i, 'mapcount', page_get_field(old + i, 'mapcount')) end
    redis.call('HSET', OWNER, I(dst), redis.call('HGET', OWNER, I(old)))
    for _, t in ipairs(ptes) do
      local np = {pfn = dst + (t.p.pfn - old), head = dst, order = order, node = NODE, bits = t.p.bits}
      redis.call('HSET', mm_key(t.pid, 'pte'), I(t.vpn), pte_encode(np))
      local pm = mm_key(t.pid, 'pagemaps')
      local ok, nk = I(NODE) .. ':' .. I(t.p.pfn), I(NODE) .. ':' .. I(np.pfn)
      if redis.call('HINCRBY', pm, ok, -1) <= 0 then redis.call('HDEL', pm, ok) end
      redis.call('HINCRBY', pm, nk, 1)
    end
    ptes_moved = ptes_moved + #ptes
    release_old(old, order, p.flags)
  end

  local function move_cache(old, order, dst)
    local f = cache_folio(old, order)
    if not f then return false end
    -- folio_migrate_mapping: the XArray entry (its marks stay), then the rest
    fm_store(f.xa, f.ino, f.index, order, fm_entry(NODE, dst, order), 'folio')
    xa_commit(f.xa)
    move_folio(old, order, dst, f.p, f.ptes, {'inactive_file', 'active_file'})
    return true
  end

  -- an anonymous page (migrate_folio for a folio with no mapping: no swap cache here), found through
  -- rmap_walk_anon: every process of its anon_vma (->mapping = root pid * 2 + 1) whose PTE at ->index (the
  -- virtual page) maps it. It moves only when it is still what the scanner saw, on the LRU, and its references
  -- are exactly its PTEs' (folio_expected_refs: a GUP pin or a reference in flight makes it stay).
  local function move_anon(old, order, dst)
    local p = page_get(old)
    if order ~= 0 or page_is_type(p, PT_BUDDY) or p.w2 % 2 ~= 1 or p.refcount < 1 or not has(p.flags, RM.PG.lru) then
      return false
    end
    local ptes = RM.anon_ptes(NODE, old, p.w2, p.w3)
    if p.refcount ~= #ptes then return false end
    move_folio(old, order, dst, p, ptes, RM.ANON_LISTS)
    return true
  end

  -- a non-LRU movable page (the fragmenter's): its driver's migrate_page moves the set membership
  local function move_movable(old, order, dst)
    if redis.call('SISMEMBER', MOVABLE, I(old)) == 0 then return false end
    redis.call('SREM', MOVABLE, I(old))
    redis.call('SADD', MOVABLE, I(dst))
    release_old(old, order, page_get_field(old, 'flags'))
    return true
  end

  local moves = ARG.moves
  for i = 1, #moves, 4 do
    local kind, old, order, dst = moves[i], tonumber(moves[i + 1]), tonumber(moves[i + 2]), tonumber(moves[i + 3])
    vm_node(NODE)
    local lost = ledger_check_take(dst, TRACE)
    if lost then mm_fail('FailedPrecondition', lost) end
    local ok
    if kind == 'cache' then ok = move_cache(old, order, dst)
    elseif kind == 'anon' then ok = move_anon(old, order, dst)
    else ok = move_movable(old, order, dst) end
    vm_node(NODE)
    if ok then
      ledger_drop(dst)
      migrated = migrated + 2 ^ order
    else
      refused = refused + 2 ^ order
      to_free(dst, order)
    end
  end
  local vm = 'mmsim:{node:' .. I(NODE) .. '}:vmstat'
  if migrated > 0 then redis.call('HINCRBY', vm, 'pgmigrate_success', migrated) end
  if refused > 0 then redis.call('HINCRBY', vm, 'pgmigrate_fail', refused) end
  local out = {'ok', migrated, ptes_moved, refused}
  for _, x in ipairs(free) do out[#out + 1] = x end
  return out
end
return main()
