-- UPDATE: one change to a file's blocks, in ONE step (mmsim.filesystem.extents.update; needs blocks.lua):
--   1. write each block image: in place for a block this file owns alone, else into a newly allocated block
--      (holes filled, shared blocks copied: xfs_reflink_allocate_cow);
--   2. point the file's extents at the new blocks and drop the extents given, with the inode fields that
--      change with them (i_size), and bump the inode's data_seq (mmsim.filesystem.inode);
--   3. drop one reference from each block the file no longer uses; a block whose count reaches zero is freed
--      (xfs_refcount_decrease_extent + xfs_free_extent).
-- One script, so a crash leaves either the old blocks or the new ones: no block is leaked, none is
-- referenced one time too many. Fenced (the caller holds the inode's lock). Crosses {fs:NAME} and {m:MAPPING}.
-- KEY and ARG: mmsim.filesystem.extents.UPDATE; ARG.items holds, in order, ARG.writes triples (disk block or
-- 0 = allocate, file block, contents), ARG.drops file blocks whose extents go, ARG.releases disk blocks losing
-- a reference, then inode field/value pairs.
-- Reply: {'updated', blocks freed, the disk block written for each write...}
local prefix, items = ARG.prefix, ARG.items
local i = 0
local written, new = {}, 0
for _ = 1, tonumber(ARG.writes) do
  local b, fb, data = tonumber(items[i + 1]), items[i + 2], items[i + 3]
  if b == 0 then
    b = redis.call('HINCRBY', KEY.sb, 'next_block', 1)
    redis.call('HSET', KEY.blkref, b, 1)
    redis.call('HSET', KEY.extents, fb, b)
    new = new + 1
  end
  if data == '' then redis.call('DEL', prefix .. b) else redis.call('SET', prefix .. b, data) end
  written[#written + 1] = b
  i = i + 3
end
if new > 0 then redis.call('HINCRBY', KEY.sb, 'blocks_used', new) end
for _ = 1, tonumber(ARG.drops) do
  redis.call('HDEL', KEY.extents, items[i + 1])
  i = i + 1
end
local freed = 0
for _ = 1, tonumber(ARG.releases) do
  freed = freed + blk_put(KEY.blkref, prefix, items[i + 1])
  i = i + 1
end
if freed > 0 then redis.call('HINCRBY', KEY.sb, 'blocks_used', -freed) end
while i < #items do
  redis.call('HSET', KEY.inode, items[i + 1], items[i + 2])
  i = i + 2
end
-- the blocks changed: a populate that read them before this step must not insert what it read (fm_stale)
if redis.call('EXISTS', KEY.inode) == 1 then redis.call('HINCRBY', KEY.inode, 'data_seq', 1) end
local out = {'updated', freed}
for _, b in ipairs(written) do out[#out + 1] = b end
return out
