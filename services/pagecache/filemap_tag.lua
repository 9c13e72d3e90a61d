-- folio_mark_dirty / __folio_start_writeback / folio_end_writeback on the XArray marks (fenced).
-- KEYS: 1 inode, 2 xa. ARGV: 1 chunk shift, 2 index, 3 mark (tag - 1), 4 '1' clear, 5 node spans.
local ino = fm_inode(KEYS[1])
local xa = xa_open(KEYS[2], ARGV[1])
vm_spans(ARGV[5])
local f = fm_lookup(xa, ino, tonumber(ARGV[2]))
if f.kind ~= 'folio' then fm_fail('NotFound', 'no folio at index ' .. ARGV[2] .. ' of ' .. KEYS[1]) end
FM_TAG.set(xa, ino, f, tonumber(ARGV[3]), ARGV[4] ~= '1')
xa_commit(xa)
return 1
