-- REMAP: xfs_reflink_remap_blocks in one atomic step: the destination's file blocks [dst, dst + n) point at
-- the source's blocks of [src, src + n) (each shared block + 1 reference), the destination's old blocks lose
-- one reference (deleted at zero), i_size grows when asked, and the reflink's intent is cleared.
-- Fenced (the caller holds both inodes' locks). Crosses {m:SRC} (read), {m:DST} and {fs:NAME}.
-- KEYS: src extents, dst extents, dst inode, dst intent, sb, blkref.
-- ARGV: src first block, dst first block, n, new i_size ('' = unchanged), block key prefix.
-- Reply: {blocks shared, blocks freed}
local sf, df, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local shared, freed = 0, 0
for i = 0, n - 1 do
  local s = redis.call('HGET', KEYS[1], sf + i)
  local d = redis.call('HGET', KEYS[2], df + i)
  if s then
    redis.call('HINCRBY', KEYS[6], s, 1)
    redis.call('HSET', KEYS[2], df + i, s)
    shared = shared + 1
  elseif d then
    redis.call('HDEL', KEYS[2], df + i)
  end
  if d then freed = freed + blk_put(KEYS[6], ARGV[5], d) end
end
if freed > 0 then redis.call('HINCRBY', KEYS[5], 'blocks_used', -freed) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], 'i_size', ARGV[4]) end
redis.call('DEL', KEYS[4])
return {shared, freed}
