-- mmsim block references (xfs_refcount_decrease_extent + xfs_free_extent), shared by evict.lua and remap.lua.

-- drop one reference from disk block `b`; a block whose count reaches zero is deleted. Returns 1 when freed.
local function blk_put(blkref, prefix, b)
  if redis.call('HINCRBY', blkref, b, -1) > 0 then return 0 end
  redis.call('HDEL', blkref, b)
  redis.call('DEL', prefix .. b)
  return 1
end
