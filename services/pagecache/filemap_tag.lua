-- folio_mark_dirty / __folio_start_writeback / folio_end_writeback on the XArray marks (fenced).
-- KEYS: 1 inode, 2 xa. ARGV: 1 chunk shift, 2 index, 3 mark (tag - 1), 4 '1' clear, 5 node spans.
local ino = fm_inode(KEYS[1])
local xa = xa_open(KEYS[2], ARGV[1])
vm_spans(ARGV[5])
local f = fm_lookup(xa, ino, tonumber(ARGV[2]))
if f.kind ~= 'folio' then fm_fail('NotFound', 'no folio at index ' .. ARGV[2] .. ' of ' .. KEYS[1]) end
local mark, set = tonumber(ARGV[3]), ARGV[4] ~= '1'
if xa_get_mark(xa, f.slot, mark) ~= set then fm_account_tag(f, mark, set and 1 or -1) end
local slots = {f.slot}
if ino.mode == 'order-0' then
  slots = {}
  for i = 0, fm_pow2(f.order) - 1 do slots[#slots + 1] = fm_hex(f.index + i) end
end
for _, s in ipairs(slots) do
  if ARGV[4] == '1' then xa_clear_mark(xa, s, ARGV[3]) else xa_set_mark(xa, s, ARGV[3]) end
end
xa_commit(xa)
return 1
