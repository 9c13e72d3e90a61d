-- CONFIG_DEBUG_VM-style walk of one node's file LRU list, at most ARGV[5] members per call (runs after the
-- page-cache library). ARGV: 1 spans, 2 node, 3 list ('inactive_file' | 'active_file'), 4 first rank,
-- 5 max members. Reply (JSON): {next = rank to resume at (-1 = done), pages = pages of the folios walked,
-- bad = {{rule, pfn, msg}}}. A member must be a live page-cache folio (not free, ->mapping set: a folio
-- leaves the list with its mapping, page_cache_delete -> lruvec_del_folio); its pages are its allocation's (page_owner).
vm_spans(ARGV[1])
local node, list, first, budget = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
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
return cjson.encode(out)
