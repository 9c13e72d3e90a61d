-- CONFIG_DEBUG_VM-style walk of one node's LRU list, at most ARG.budget members per call (runs after the
-- page-cache library). ARG: mmsim.pagecache.debug_vm.LRU_CHECK (list: 'inactive_file' | 'active_file' |
-- 'inactive_anon' | 'active_anon'). Reply: {'walked', JSON of {next = rank to resume at (-1 = done), pages =
-- pages of the folios walked, bad = {{rule, pfn, msg}}}}. A member must be a live folio (not free: a folio leaves
-- the list before it is freed, lruvec_del_folio); its pages are its allocation's (page_owner). A file list holds
-- page-cache folios (->mapping set, not anonymous: page_cache_delete takes a folio off with its mapping); an anon
-- list holds anonymous pages (PAGE_MAPPING_ANON) with PG_swapbacked and PG_lru set, PG_active as the list says,
-- and on no other list (folio_is_file_lru: the list is chosen by PG_swapbacked).
vm_spans(ARG.spans)
local node, list, first, budget = tonumber(ARG.node), ARG.list, tonumber(ARG.first), tonumber(ARG.budget)
vm_node(node)
local out = {next = -1, pages = 0, bad = {}}
local anon = string.sub(list, -5) == '_anon'
local function has_flag(flags, f) return bit.band(flags, f) ~= 0 end
local members = redis.call('ZRANGE', LRU.key(node, 'lru:' .. list), first, first + budget - 1)
if #members == budget then out.next = first + budget end
for _, m in ipairs(members) do
  local pfn = tonumber(m)
  local p = page_get(pfn)
  local own = redis.call('HGET', VM_PREFIX .. 'owner', m)
  if page_is_type(p, PT_BUDDY) or p.refcount < 1 or not own then
    out.bad[#out.bad + 1] = {'lru_freed_page', pfn, string.format('pfn %d on the %s list is free (refcount %d)', pfn, list, p.refcount)}
  elseif not anon and p.w2 == 0 then
    out.bad[#out.bad + 1] = {'lru_not_cached', pfn, string.format('pfn %d on the %s list is in no page cache (->mapping is NULL)', pfn, list)}
  elseif anon ~= (p.w2 % 2 == 1) then
    out.bad[#out.bad + 1] = {'lru_list_type', pfn, string.format('pfn %d on the %s list is %s page (->mapping %d)', pfn, list,
      anon and 'not an anonymous' or 'an anonymous', p.w2)}
  else
    if anon then
      local other = list == 'inactive_anon' and 'active_anon' or 'inactive_anon'
      if redis.call('ZSCORE', LRU.key(node, 'lru:' .. other), m) then
        if list == 'inactive_anon' then   -- reported once, from the inactive list's walk
          out.bad[#out.bad + 1] = {'lru_folio_on_two_lists', pfn, string.format('pfn %d is on both the inactive and the active anon list', pfn)}
        end
      elseif has_flag(p.flags, FM_PG_ACTIVE) ~= (list == 'active_anon') then
        out.bad[#out.bad + 1] = {'lru_folio_active_flag', pfn, string.format('pfn %d: on the %s list, PG_active %s', pfn, list,
          has_flag(p.flags, FM_PG_ACTIVE) and 'set' or 'clear')}
      end
      if not has_flag(p.flags, LRU_CHECK.lru) or not has_flag(p.flags, LRU_CHECK.swapbacked) then
        out.bad[#out.bad + 1] = {'lru_anon_flags', pfn, string.format('pfn %d on the %s list: PG_lru %s, PG_swapbacked %s (both are set while an anonymous page is on its list)',
          pfn, list, has_flag(p.flags, LRU_CHECK.lru) and 'set' or 'clear', has_flag(p.flags, LRU_CHECK.swapbacked) and 'set' or 'clear')}
      end
    end
    out.pages = out.pages + XA_POW2[tonumber(string.match(own, '^(%d+)'))]   -- the folio's pages (page_owner's order)
  end
end
return {'walked', cjson.encode(out)}
