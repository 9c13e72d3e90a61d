-- vfs_unlink's drop_nlink + the orphan-list insert (ext4_orphan_add), in one step. Fenced: the caller holds
-- the inode's locks. Crosses {m:MAPPING}, {fs:NAME} and {node:0}. KEY and ARG: mmsim.filesystem.evict.UNLINK_INODE.
-- Replies: {'orphaned'} (VMAs keep the inode alive) | {'unmapped'}: evict now
redis.call('HSET', KEY.inode, 'nlink', 0)
if redis.call('ZCARD', KEY.i_mmap) == 0 then return {'unmapped'} end
if redis.call('SADD', KEY.orphans, ARG.mapping) == 1 then redis.call('HINCRBY', KEY.vmstat, 'mmsim_orphan_inodes', 1) end
return {'orphaned'}
