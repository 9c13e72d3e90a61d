-- UPDATE: one change to a file's blocks, in ONE step (mmsim.filesystem.extents.update; needs blocks.lua):
--   1. write each block image: in place for a block this file owns alone, else into a newly allocated block
--      (holes filled, shared blocks copied: xfs_reflink_allocate_cow);
--   2. point the file's extents at the new blocks and drop the extents given, with the inode fields that
--      change with them (i_size), and bump the inode's data_seq (mmsim.filesystem.inode);
--   3. drop one reference from each block the file no longer uses; a block whose count reaches zero is freed
--      (xfs_refcount_decrease_extent + xfs_free_extent).
-- One script, so a crash leaves either the old blocks or the new ones: no block is leaked, none is
-- referenced one time too many. Fenced (the caller holds the inode's lock). Crosses {fs:NAME} and {m:MAPPING}.
-- KEYS: 1 fs sb, 2 fs blkref, 3 extents, 4 inode.
-- ARGV: block key prefix, #writes, then per write (disk block or 0 = allocate, file block, contents),
--       #drop, the file blocks whose extents go, #release, the disk blocks losing a reference,
--       then inode field/value pairs.
-- Reply: {blocks freed, the disk block written for each write...}
local prefix = ARGV[1]
local i = 2
local written, new = {}, 0
for _ = 1, tonumber(ARGV[i]) do
  local b, fb, data = tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3]
  if b == 0 then
    b = redis.call('HINCRBY', KEYS[1], 'next_block', 1)
    redis.call('HSET', KEYS[2], b, 1)
    redis.call('HSET', KEYS[3], fb, b)
    new = new + 1
  end
  if data == '' then redis.call('DEL', prefix .. b) else redis.call('SET', prefix .. b, data) end
  written[#written + 1] = b
  i = i + 3
end
i = i + 1
if new > 0 then redis.call('HINCRBY', KEYS[1], 'blocks_used', new) end
for _ = 1, tonumber(ARGV[i]) do
  redis.call('HDEL', KEYS[3], ARGV[i + 1])
  i = i + 1
end
i = i + 1
local freed = 0
for _ = 1, tonumber(ARGV[i]) do
  freed = freed + blk_put(KEYS[2], prefix, ARGV[i + 1])
  i = i + 1
end
i = i + 1
if freed > 0 then redis.call('HINCRBY', KEYS[1], 'blocks_used', -freed) end
while i < #ARGV do
  redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
  i = i + 2
end
-- the blocks changed: a populate that read them before this step must not insert what it read (fm_stale)
if redis.call('EXISTS', KEYS[4]) == 1 then redis.call('HINCRBY', KEYS[4], 'data_seq', 1) end
local out = {freed}
for _, b in ipairs(written) do out[#out + 1] = b end
return out
