-- DESTROY: evict()'s last step, atomic: drop a reference from every block of the file (a block whose count
-- reaches zero is deleted), then delete the extents, the inode and its intent (fenced: the caller holds the
-- inode's locks). Crosses {m:MAPPING} (extents, inode, intent) and {fs:NAME} (sb, blkref, blk:B).
-- KEYS: extents, inode, intent, sb, blkref. ARGV: block key prefix ('mmsim:{fs:NAME}:blk:').
-- Reply: blocks freed.
local freed = 0
for _, b in ipairs(redis.call('HVALS', KEYS[1])) do freed = freed + blk_put(KEYS[5], ARGV[1], b) end
if freed > 0 then redis.call('HINCRBY', KEYS[4], 'blocks_used', -freed) end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return freed
