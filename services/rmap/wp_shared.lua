-- wp_page_shared (mm/memory.c): a write to a read-only PTE of a shared mapping makes it writable+dirty.
vm_spans(ARG.spans)
local st = redis.call('HMGET', KEY.mm, 'state', 'killed_reason')
if not st[1] then return {'nopid'} end
if st[1] ~= 'running' then return {'killed', st[2] or ''} end
local s = redis.call('HGET', KEY.pte, ARG.vpn)
if s ~= ARG.expected then return {'retry'} end
local p = pte_decode(s)
vm_node(p.node)
if page_get_field(p.head, 'mapping') == MAPPING_SHARED and page_get_field(p.head, 'index') > 1 then
  return {'shared'}   -- PFN entries: the page cache copies the folio for this file first
end
-- the folio lock of wp_page_shared: the PTE becomes writable only while the folio is dirty (the caller
-- dirtied it, as do_page_mkwrite does, and no writeback cleaned it since); else the caller dirties it first
if not has(page_get_field(p.head, 'flags'), PG_DIRTY) then return {'clean'} end
p.bits = bit.bor(p.bits, PTE_WRITE + PTE_DIRTY + PTE_YOUNG)
redis.call('HSET', KEY.pte, ARG.vpn, pte_encode(p))
rm_stat(p.node, 'pgfault', 1)
redis.call('HINCRBY', KEY.mm, 'min_flt', 1)
return {'ok', pte_encode(p)}
