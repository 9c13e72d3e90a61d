-- A zero entry (a known hole) covering 2^order pages (PageCache.insert_zero), fenced.
-- KEY, ARG and replies: mmsim.pagecache.filemap.ADD_ZERO.
local ino = fm_inode(KEY.inode)
local stale = fm_stale(KEY.inode, ARG.data_seq)
if stale then return stale end
local index, order = tonumber(ARG.index), tonumber(ARG.order)
local nr = fm_pow2(order)
if index % nr ~= 0 then
  fm_fail('InvalidArgument', 'index ' .. ARG.index .. ' is not aligned to the zero entry size (order ' .. order .. ')')
end
if ino.mode == 'hugetlb' then fm_fail('FailedPrecondition', 'hugetlb mappings have no zero entries') end
local xa = xa_open(KEY.xa, ARG.chunk_shift)
local olds = fm_overlapping(xa, ino, index, index + nr - 1)
if #olds > 0 then
  fm_fail('AlreadyExists', 'page ' .. tonumber(olds[1][1], 16) .. ' is already in the page cache')
end
fm_store(xa, ino, index, order, FM_HOLE, '')
xa_commit(xa)
redis.call('HINCRBY', KEY.vmstat, 'mmsim_zero_entry_pages', nr)
local out = {'added', redis.call('HINCRBY', KEY.inode, 'zero_pages', nr)}
return fm_unlocked(out, ARG.unlock)
