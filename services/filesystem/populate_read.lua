-- populate's reads, in the step that takes the invalidate_lock (mmsim.runtime.locks.Step: lk_step runs once
-- the lock is granted, given the inode's fields): page_cache_ra_order's choice of the folio (order, start) and
-- the readahead state it leaves, the extent lookup of iomap_begin and the block reads of iomap_readpage_iter.
-- KEY and ARG: mmsim.filesystem.populate.READ (KEY.inode: the inode hash). Replies: {'eof'} | {'read', ...}
-- (mmsim.filesystem.populate.ReadStep decodes it).
local function lk_step(fields)
  local ino = {}
  for i = 1, #fields, 2 do ino[fields[i]] = fields[i + 1] end
  local index, max_pagecache = tonumber(ARG.index), tonumber(ARG.max_order)
  local eof = math.ceil(tonumber(ino.i_size or '0') / 4096)
  if index >= eof then return {'eof'} end   -- filemap_fault's SIGBUS: nothing read, no readahead state
  -- choose_order: a miss right after the previous populated folio is sequential and asks for ra_order + 2,
  -- anything else starts again at the lowest order, within the mapping's [min, max] order; the folio starts
  -- at the block holding index and shrinks while that start is unaligned or it would run past EOF, never
  -- below the lowest order (a block straddling EOF is populated whole)
  local lo = math.min(tonumber(ino.min_order), tonumber(ino.max_order))
  local hi = math.max(lo, math.min(tonumber(ino.max_order), max_pagecache))
  local want = lo
  if index == tonumber(ino.ra_next or '-1') then want = tonumber(ino.ra_order or '0') + 2 end
  want = math.max(lo, math.min(want, hi))
  local start = index - index % (2 ^ lo)
  local order = want
  while order > lo and start % (2 ^ order) ~= 0 do order = order - 1 end
  while order > lo and start + 2 ^ order > eof do order = order - 1 end
  -- the file blocks covering pages [start, start + 2^order)
  local bs = tonumber(ino.block_size)
  local first = math.floor(start * 4096 / bs)
  local n = math.floor(((start + 2 ^ order) * 4096 - 1) / bs) - first + 1
  local fb = {}
  for i = 0, n - 1 do fb[#fb + 1] = first + i end
  local map = redis.call('HMGET', KEY.extents, unpack(fb))
  redis.call('HSET', KEY.inode, 'ra_next', start + 2 ^ order, 'ra_order', want)
  local out, seen, wanted = {'read', order, start, want, first, n}, {}, {}
  for i = 1, n do
    local d = tonumber(map[i] or 0)
    out[#out + 1] = d
    if d ~= 0 and not seen[d] then
      seen[d] = true
      wanted[#wanted + 1] = d
    end
  end
  for _, d in ipairs(wanted) do
    out[#out + 1] = d
    out[#out + 1] = redis.call('GET', ARG.prefix .. d) or ''
  end
  return out
end
