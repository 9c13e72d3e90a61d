-- unmap_mapping_range (mm/memory.c): walk i_mmap for VMAs overlapping [first, last] (file pages).
vm_spans(ARG.spans)
local first, last, even = tonumber(ARG.first), tonumber(ARG.last), ARG.even_cows == '1'
if last < 0 then last = 2 ^ 52 end
local zapped, nv = 0, 0
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEY.i_mmap, '-inf', I(last))) do
  local pid, s = string.match(member, '^(%d+):(%d+)$')
  local r = redis.call('ZRANGEBYSCORE', mm_key(pid, 'vmas'), s, s)
  if r[1] then
    local v = cjson.decode(r[1])
    local n = (v.e - v.s) / 4096
    local lo, hi = math.max(first, v.pg), math.min(last, v.pg + n - 1)
    if lo <= hi then
      nv = nv + 1
      local base = v.s / 4096 - v.pg
      zapped = zapped + rm_zap_range(tonumber(pid), base + lo, base + hi, even)
    end
  end
end
local out = {'ok', I(zapped), I(nv)}
for _, x in ipairs(rm_freed_flat()) do out[#out + 1] = x end
return out
