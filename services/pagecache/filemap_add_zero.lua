-- A zero entry (a known hole) covering 2^order pages (PageCache.insert_zero), fenced.
-- KEYS: 1 inode, 2 xa, 3 node-0 vmstat. ARGV: 1 chunk shift, 2 index, 3 order, 4 data_seq ('' = unchecked),
-- 5 '1' unlock. Reply: {zero pages, [release, woken]} | {'STALE', seq now, seq read}.
local ino = fm_inode(KEYS[1])
local stale = fm_stale(KEYS[1], ARGV[4])
if stale then return stale end
local index, order = tonumber(ARGV[2]), tonumber(ARGV[3])
local nr = fm_pow2(order)
if index % nr ~= 0 then
  fm_fail('InvalidArgument', 'index ' .. ARGV[2] .. ' is not aligned to the zero entry size (order ' .. order .. ')')
end
if ino.mode == 'hugetlb' then fm_fail('FailedPrecondition', 'hugetlb mappings have no zero entries') end
local xa = xa_open(KEYS[2], ARGV[1])
local olds = fm_overlapping(xa, ino, index, index + nr - 1)
if #olds > 0 then
  fm_fail('AlreadyExists', 'page ' .. tonumber(olds[1][1], 16) .. ' is already in the page cache')
end
fm_store(xa, ino, index, order, FM_HOLE, '')
xa_commit(xa)
redis.call('HINCRBY', KEYS[3], 'mmsim_zero_entry_pages', nr)
return fm_unlocked({redis.call('HINCRBY', KEYS[1], 'zero_pages', nr)}, ARGV[5])
