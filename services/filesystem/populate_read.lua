-- mmsim populate's reads in one step (the extent lookup of iomap_begin, the readahead state of
-- page_cache_ra_order, and the block reads of iomap_readpage_iter): see populate.ReadArgs for KEYS and ARGV.
-- Reply: the disk block of each file block in the range (0 = hole), then, for each distinct disk block,
-- its number and its contents ('' when it was never written).
local first, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local fields = {}
for i = 0, n - 1 do fields[#fields + 1] = first + i end
local map = redis.call('HMGET', KEYS[1], unpack(fields))
redis.call('HSET', KEYS[2], 'ra_next', ARGV[3], 'ra_order', ARGV[4])
local out, seen, wanted = {}, {}, {}
for i = 1, n do
  local d = tonumber(map[i] or 0)
  out[i] = d
  if d ~= 0 and not seen[d] then
    seen[d] = true
    wanted[#wanted + 1] = d
  end
end
for _, d in ipairs(wanted) do
  out[#out + 1] = d
  out[#out + 1] = redis.call('GET', ARGV[5] .. d) or ''
end
return out
