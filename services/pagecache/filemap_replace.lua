-- The private copy of a shared (PFN-entry) folio takes its place, its bytes copied (fenced).
-- KEYS: 1 inode, 2 xa. ARGV: 1 chunk shift, 2 node spans, 3 index, 4 old pfn, 5 new node, 6 new pfn,
-- 7 page flags, 8 mapping, 9 trace id. Reply: fm_commit_reply's {folio index, _, folios to free (node, pfn,
-- order)...} | {'changed'} (the shared folio is no longer there).
-- break the sharing of one folio: the new private copy replaces it in this mapping (cmpxchg semantics)
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
