-- vfs_unlink's drop_nlink + the orphan-list insert (ext4_orphan_add), in one step. Fenced: the caller holds
-- the inode's locks. Crosses {m:MAPPING}, {fs:NAME} and {node:0}.
-- KEYS: 1 inode, 2 i_mmap, 3 fs orphans, 4 node-0 vmstat. ARGV: 1 mapping.
-- -> 1 orphaned (VMAs keep the inode alive), 0 not mapped: evict now
redis.call('HSET', KEYS[1], 'nlink', 0)
if redis.call('ZCARD', KEYS[2]) == 0 then return 0 end
if redis.call('SADD', KEYS[3], ARGV[1]) == 1 then redis.call('HINCRBY', KEYS[4], 'mmsim_orphan_inodes', 1) end
return 1
