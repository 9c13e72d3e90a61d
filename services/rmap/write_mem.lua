-- access_process_vm write side: store only when every PTE of the range is present and writable; each PTE
-- written through becomes dirty and young (the bits folio_mkclean and folio_referenced read). A page of a
-- PMD-mapped folio is written through its PMD ({mm:PID}:pmd, field vpn >> 9).
local function I(n) return string.format('%d', n) end
local st = redis.call('HMGET', KEY.mm, 'state', 'killed_reason')
if not st[1] then return {'nopid'} end
if st[1] ~= 'running' then return {'killed', st[2] or ''} end
local start, data = tonumber(ARG.address), ARG.data
local stop = start + #data
local vpn = math.floor(start / 4096)
local ptes = {}
while vpn * 4096 < stop do
  local s, key, field, pfn = pte_or_pmd(KEY, vpn)
  if not s then return {'fault', I(vpn)} end
  local _, head, order, node, bits = string.match(s, '^(%d+):(%d+):(%d+):(%d+):(%d+)$')
  if bit.band(tonumber(bits), 1) == 0 then return {'fault', I(vpn)} end
  ptes[#ptes + 1] = {vpn, tonumber(pfn), head, node, tonumber(bits), s, key, field}
  vpn = vpn + 1
end
for _, p in ipairs(ptes) do
  local lo, hi = math.max(start, p[1] * 4096), math.min(stop, (p[1] + 1) * 4096)
  local dst = (p[2] - tonumber(p[3])) * 4096 + (lo - p[1] * 4096)
  redis.call('SETRANGE', 'mmsim:{node:' .. p[4] .. '}:mem:' .. p[3], dst, string.sub(data, lo - start + 1, hi - start))
  if bit.band(p[5], 12) ~= 12 then   -- PTE_DIRTY | PTE_YOUNG
    p[5] = bit.bor(p[5], 12)
    redis.call('HSET', p[7], p[8], (string.gsub(p[6], '%d+$', I(p[5]))))
  end
end
return {'ok', I(#data)}
