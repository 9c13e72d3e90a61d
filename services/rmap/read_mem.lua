-- access_process_vm read side: bytes through the PTEs, stopping at the first page without one. The access
-- makes each PTE young (the hardware's accessed bit, which folio_referenced reads and clears for reclaim).
-- A page of a PMD-mapped folio is reached through the PMD ({mm:PID}:pmd, field vpn >> 9), which is made young.
local function I(n) return string.format('%d', n) end
local st = redis.call('HMGET', KEY.mm, 'state', 'killed_reason')
if not st[1] then return {'nopid'} end
if st[1] ~= 'running' then return {'killed', st[2] or ''} end
local addr, stop = tonumber(ARG.address), tonumber(ARG.address) + tonumber(ARG.length)
local out = {}
while addr < stop do
  local vpn = math.floor(addr / 4096)
  local off = addr - vpn * 4096
  local n = math.min(4096 - off, stop - addr)
  local s, key, field, pfn = pte_or_pmd(KEY, vpn)
  local _, head, order, node, bits = string.match(s or '', '^(%d+):(%d+):(%d+):(%d+):(%d+)$')
  -- no PTE, or a PROT_NONE one (64): the access faults
  if not s or bit.band(tonumber(bits), 64) ~= 0 then return {'ok', table.concat(out), I(vpn)} end
  local src = (tonumber(pfn) - tonumber(head)) * 4096 + off
  local b = ''
  if bit.band(tonumber(bits), 8) == 0 then   -- PTE_YOUNG
    redis.call('HSET', key, field, (string.gsub(s, '%d+$', I(bit.bor(tonumber(bits), 8)))))
  end
  if bit.band(tonumber(bits), 32) == 0 then
    b = redis.call('GETRANGE', 'mmsim:{node:' .. node .. '}:mem:' .. head, src, src + n - 1)
  end
  if #b < n then b = b .. string.rep('\0', n - #b) end
  out[#out + 1] = b
  addr = addr + n
end
return {'ok', table.concat(out), ''}
