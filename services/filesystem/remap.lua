-- REMAP: xfs_reflink_remap_blocks in one atomic step: the destination's file blocks [dst, dst + n) point at
-- the source's blocks of [src, src + n) (each shared block + 1 reference), the destination's old blocks lose
-- one reference (deleted at zero), i_size grows when asked, and the reflink's intent is cleared.
-- Fenced (the caller holds both inodes' locks). Crosses {m:SRC} (read), {m:DST} and {fs:NAME}.
-- KEY and ARG: mmsim.filesystem.reflink.REMAP (i_size '' = unchanged).
-- Reply: {'remapped', blocks shared, blocks freed}
local sf, df, n = tonumber(ARG.src_first), tonumber(ARG.dst_first), tonumber(ARG.n)
local shared, freed = 0, 0
for i = 0, n - 1 do
  local s = redis.call('HGET', KEY.src_extents, sf + i)
  local d = redis.call('HGET', KEY.dst_extents, df + i)
  if s then
    redis.call('HINCRBY', KEY.blkref, s, 1)
    redis.call('HSET', KEY.dst_extents, df + i, s)
    shared = shared + 1
  elseif d then
    redis.call('HDEL', KEY.dst_extents, df + i)
  end
  if d then freed = freed + blk_put(KEY.blkref, ARG.prefix, d) end
end
if freed > 0 then redis.call('HINCRBY', KEY.sb, 'blocks_used', -freed) end
if ARG.i_size ~= '' then redis.call('HSET', KEY.inode, 'i_size', ARG.i_size) end
redis.call('DEL', KEY.intent)
return {'remapped', shared, freed}
