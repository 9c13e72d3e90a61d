-- CONFIG_DEBUG_VM-style walk of one node's file LRU list, at most ARG.budget members per call (runs after the
-- page-cache library). ARG: mmsim.pagecache.debug_vm.LRU_CHECK. Reply: {'walked', JSON of {next = rank to resume at (-1 = done), pages = pages of the folios walked,
-- bad = {{rule, pfn, msg}}}}. A member must be a live page-cache folio (not free, ->mapping set: a folio
-- leaves the list with its mapping, page_cache_delete -> lruvec_del_folio); its pages are its allocation's (page_owner).
vm_spans(ARG.spans)
local node, list, first, budget = tonumber(ARG.node), ARG.list, tonumber(ARG.first), tonumber(ARG.budget)
vm_node(node)
local out = {next = -1, pages = 0, bad = {}}
local members = redis.call('ZRANGE', LRU.key(node, 'lru:' .. list), first, first + budget - 1)
if #members == budget then out.next = first + budget end
for _, m in ipairs(members) do
  local pfn = tonumber(m)
  local p = page_get(pfn)
  local own = redis.call('HGET', VM_PREFIX .. 'owner', m)
  if page_is_type(p, PT_BUDDY) or p.refcount < 1 or not own then
    out.bad[#out.bad + 1] = {'lru_freed_page', pfn, string.format('pfn %d on the %s list is free (refcount %d)', pfn, list, p.refcount)}
  elseif p.w2 == 0 then
    out.bad[#out.bad + 1] = {'lru_not_cached', pfn, string.format('pfn %d on the %s list is in no page cache (->mapping is NULL)', pfn, list)}
  else
    out.pages = out.pages + XA_POW2[tonumber(string.match(own, '^(%d+)'))]   -- the folio's pages (page_owner's order)
  end
end
return {'walked', cjson.encode(out)}
