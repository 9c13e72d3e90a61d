-- mmsim workingset library: mm/workingset.c over the page cache's LRU lists (filemap.lua, which must precede it).
--
-- Reclaim leaves a shadow entry where it drops a clean folio (workingset_eviction); the folio that later
-- fills that index reads it (workingset_refault, from filemap_add_folio) to tell a refault of a page that
-- would have stayed resident with a bigger active list from one that would not.
--
-- nonresident_age ({node:N}:lruvec 'nonresident_age') is the node's clock of evictions and activations
-- (workingset_age_nonresident). The shadow is a value entry 'v<decimal>' packed as pack_shadow does with
-- memcg id 0 (no memcg): ((eviction << MEM_CGROUP_ID_SHIFT | 0) << NODES_SHIFT | nid) << WORKINGSET_SHIFT
-- | workingset, with eviction kept to WS.EVICTION_BITS (EVICTION_MASK: what a Lua double holds exactly beside
-- the other fields). The clock starts at 1, so that no shadow packs to 4: the zero entry of a hole (FM_HOLE).

local WS = {MEMCG_SHIFT = 16, NODES_SHIFT = 6, EVICTION_BITS = 30}   -- functions are fields too
WS.EVICTION_MOD = 2 ^ WS.EVICTION_BITS

function WS.age(node)
  return tonumber(redis.call('HGET', LRU.key(node, 'lruvec'), 'nonresident_age') or '0') + 1
end

-- workingset_age_nonresident
function WS.age_nonresident(node, nr)
  redis.call('HINCRBY', LRU.key(node, 'lruvec'), 'nonresident_age', nr)
end

-- pack_shadow / unpack_shadow
function WS.pack(eviction, node, workingset)
  local v = ((eviction % WS.EVICTION_MOD) * 2 ^ WS.MEMCG_SHIFT * 2 ^ WS.NODES_SHIFT + node) * 2 + (workingset and 1 or 0)
  return string.format('v%d', v)
end

function WS.unpack(entry)
  local v = tonumber(string.sub(entry, 2))
  local workingset = v % 2
  v = (v - workingset) / 2
  local node = v % 2 ^ WS.NODES_SHIFT
  v = (v - node) / 2 ^ WS.NODES_SHIFT
  return (v - v % 2 ^ WS.MEMCG_SHIFT) / 2 ^ WS.MEMCG_SHIFT, node, workingset == 1
end

-- workingset_eviction: the shadow of a folio of `nr` pages leaving node `node`'s inactive list; the clock
-- advances by the folio's pages
function WS.eviction(node, nr, workingset)
  local eviction = WS.age(node)
  WS.age_nonresident(node, nr)
  return WS.pack(eviction, node, workingset)
end

-- workingset_test_recent + workingset_refault for a file folio of `nr` pages on node `node` that replaces
-- `shadow`: counts workingset_refault_file; when the refault distance (evictions and activations since this
-- page left) is within the active file list (the workingset size without swap), the folio starts active
-- (workingset_activate_file) and, if it was active before its eviction, is workingset again
-- (workingset_restore_file). Returns active, workingset.
function WS.refault(node, nr, shadow)
  local eviction, snode, workingset = WS.unpack(shadow)
  local vm = LRU.key(node, 'vmstat')
  redis.call('HINCRBY', vm, 'workingset_refault_file', nr)
  local distance = (WS.age(snode) - eviction) % WS.EVICTION_MOD
  local size = tonumber(redis.call('HGET', LRU.key(snode, 'vmstat'), 'nr_active_file') or '0')
  if distance > size then return false, false end
  WS.age_nonresident(node, nr)
  redis.call('HINCRBY', vm, 'workingset_activate_file', nr)
  if workingset then redis.call('HINCRBY', vm, 'workingset_restore_file', nr) end
  return true, workingset
end
