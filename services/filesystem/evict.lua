-- evict (fs/inode.c) of an unlinked inode nobody maps any more, after its page cache was truncated:
-- every block loses the file's reference (freed at zero, xfs_inactive_truncate), the inode and its block
-- map are deleted with any intent on it (an unlink's), and it leaves the orphan list (ext4_orphan_del). ONE
-- step, so a crash leaves either the whole inode (evict is run again) or nothing; run on a gone inode it does
-- nothing. Fenced: the caller holds the inode's locks. Crosses {m:MAPPING}, {fs:NAME}, {cluster}, {node:0}.
-- KEY and ARG: mmsim.filesystem.evict.EVICT.
-- Replies: {'gone'} | {'linked'} | {'mapped', VMAs} | {'evicted', blocks freed, was an orphan (0/1)}
if redis.call('EXISTS', KEY.inode) == 0 then return {'gone'} end
if redis.call('HGET', KEY.inode, 'nlink') ~= '0' then return {'linked'} end
local vmas = redis.call('ZCARD', KEY.i_mmap)
if vmas > 0 then return {'mapped', vmas} end
local freed = 0
for _, b in ipairs(redis.call('HVALS', KEY.extents)) do freed = freed + blk_put(KEY.blkref, ARG.prefix, b) end
if freed > 0 then redis.call('HINCRBY', KEY.sb, 'blocks_used', -freed) end
redis.call('DEL', KEY.inode, KEY.extents, KEY.intent)
redis.call('SREM', KEY.mappings, ARG.mapping)
local orphan = redis.call('SREM', KEY.orphans, ARG.mapping)
if orphan == 1 then
  redis.call('HINCRBY', KEY.vmstat, 'mmsim_orphan_inodes', -1)
  redis.call('HINCRBY', KEY.vmstat, 'mmsim_orphan_evictions', 1)
end
return {'evicted', freed, orphan}
