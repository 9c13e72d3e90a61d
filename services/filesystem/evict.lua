-- evict (fs/inode.c) of an unlinked inode nobody maps any more, after its page cache was truncated:
-- every block loses the file's reference (freed at zero, xfs_inactive_truncate), the inode and its block
-- map are deleted with any intent on it (an unlink's), and it leaves the orphan list (ext4_orphan_del). ONE
-- step, so a crash leaves either the whole inode (evict is run again) or nothing; run on a gone inode it does
-- nothing. Fenced: the caller holds the inode's locks. Crosses {m:MAPPING}, {fs:NAME}, {cluster}, {node:0}.
-- KEYS: 1 inode, 2 extents, 3 i_mmap, 4 fs orphans, 5 cluster mappings, 6 fs sb, 7 fs blkref, 8 node-0 vmstat,
--       9 intent
-- ARGV: 1 block key prefix, 2 mapping
-- -> {'gone'} | {'linked'} | {'mapped', VMAs} | {'evicted', blocks freed, was an orphan (0/1)}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'gone'} end
if redis.call('HGET', KEYS[1], 'nlink') ~= '0' then return {'linked'} end
local vmas = redis.call('ZCARD', KEYS[3])
if vmas > 0 then return {'mapped', vmas} end
local freed = 0
for _, b in ipairs(redis.call('HVALS', KEYS[2])) do freed = freed + blk_put(KEYS[7], ARGV[1], b) end
if freed > 0 then redis.call('HINCRBY', KEYS[6], 'blocks_used', -freed) end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[9])
redis.call('SREM', KEYS[5], ARGV[2])
local orphan = redis.call('SREM', KEYS[4], ARGV[2])
if orphan == 1 then
  redis.call('HINCRBY', KEYS[8], 'mmsim_orphan_inodes', -1)
  redis.call('HINCRBY', KEYS[8], 'mmsim_orphan_evictions', 1)
end
return {'evicted', freed, orphan}
