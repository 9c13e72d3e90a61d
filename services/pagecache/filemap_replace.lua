-- The private copy of a shared (PFN-entry) folio takes its place, its bytes copied (fenced).
-- KEY and ARG: mmsim.pagecache.filemap.REPLACE. Replies: {'replaced', folio index, its order, folios to free
-- (node, pfn, order)...} | {'changed'} (the shared folio is no longer there).
-- break the sharing of one folio: the new private copy replaces it in this mapping (cmpxchg semantics)
local ino = fm_inode(KEY.inode)
local xa = xa_open(KEY.xa, ARG.chunk_shift)
vm_spans(ARG.spans)
local f = fm_lookup(xa, ino, tonumber(ARG.index))
local old_pfn, node, pfn = tonumber(ARG.old_pfn), tonumber(ARG.node), tonumber(ARG.pfn)
if f.kind ~= 'folio' or f.pfn ~= old_pfn then return {'changed'} end
vm_node(node)
local lost = ledger_check_take(pfn, ARG.trace)   -- the copy leaves the in-flight ledger here
if lost then fm_fail('FailedPrecondition', lost) end
ledger_drop(pfn)
fm_store(xa, ino, f.index, f.order, fm_entry(node, pfn, f.order), 'folio')
redis.call('COPY', 'mmsim:{node:' .. f.node .. '}:mem:' .. f.pfn, 'mmsim:{node:' .. node .. '}:mem:' .. pfn, 'REPLACE')
vm_node(node)
page_flags_set(pfn, tonumber(ARG.flags))
page_set_field(pfn, 'mapping', mapping_intern(ARG.mapping))
page_set_field(pfn, 'index', f.index)
LRU.add(node, pfn, fm_pow2(f.order), false)
redis.call('HINCRBY', 'mmsim:{node:' .. node .. '}:vmstat', 'nr_file_pages', fm_pow2(f.order))
if fm_release_folio(f, 'mmsim:{node:' .. f.node .. '}:vmstat') then fm_freed(f) end
local out = fm_commit_reply(xa, f.index, f.order)
table.insert(out, 1, 'replaced')
return out
