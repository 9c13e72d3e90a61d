-- mprotect (mm/mprotect.c do_mprotect_pkey -> mprotect_fixup -> change_protection) in one step: the planned
-- VMAs replace the old ones (split and merged, relinked into i_mmap), then the range's PTEs follow the new
-- protection: without VM_WRITE they are write-protected; PROT_NONE makes them inaccessible (pte_mkprotnone,
-- PTE_PROTNONE here) and a readable protection makes them accessible again. Adding VM_WRITE makes no PTE
-- writable: the next store faults (a copy-on-write, wp_page_reuse or do_page_mkwrite, as the kernel does for
-- PTEs it cannot upgrade).
vm_spans(ARG.spans)
local pid, start, stop = tonumber(ARG.pid), tonumber(ARG.start), tonumber(ARG.stop)
local st = redis.call('HMGET', KEY.mm, 'state', 'killed_reason', 'map_count', 'max_map_count')
if not st[1] then return {'nopid'} end
if st[1] ~= 'running' then return {'killed', st[2] or ''} end
local old, new = cjson.decode(ARG.old), cjson.decode(ARG.new)
for _, m in ipairs(old) do
  local v = cjson.decode(m)
  if redis.call('ZRANGEBYSCORE', KEY.vmas, I(v.s), I(v.s))[1] ~= m then return {'retry'} end
end
-- the old VMAs are contiguous (by address); nothing else may have been mapped among them meanwhile
local seen = redis.call('ZRANGEBYSCORE', KEY.vmas, I(cjson.decode(old[1]).s), '(' .. I(cjson.decode(old[#old]).e))
if #seen ~= #old then return {'retry'} end
local delta = #new - #old
if delta > 0 and tonumber(st[3]) + delta > tonumber(st[4]) then return {'enomem', st[3]} end
for _, m in ipairs(old) do
  local v = cjson.decode(m)
  redis.call('ZREM', KEY.vmas, m)
  redis.call('ZREM', map_key(v.m, 'i_mmap'), I(pid) .. ':' .. I(v.s))
end
for _, m in ipairs(new) do
  local v = cjson.decode(m)
  redis.call('ZADD', KEY.vmas, I(v.s), m)
  redis.call('ZADD', map_key(v.m, 'i_mmap'), I(v.pg), I(pid) .. ':' .. I(v.s))
end
redis.call('HINCRBY', KEY.mm, 'map_count', delta)
local wrprotect, protnone = ARG.wrprotect == '1', ARG.protnone == '1'
local changed = 0
local function prot(b)
  if wrprotect then b = bit.band(b, bit.bnot(PTE_WRITE)) end
  if protnone then b = bit.bor(b, PTE_PROTNONE) else b = bit.band(b, bit.bnot(PTE_PROTNONE)) end
  return b
end
-- change_pmd_range: a PMD inside the range changes protection whole (change_huge_pmd: HPAGE_PMD_NR pages); one
-- the range cuts is split first (__split_huge_pmd, also vma_adjust_trans_huge at the new VMA boundaries), which
-- for a file VMA zaps it
local h = redis.call('HGETALL', mm_key(pid, 'pmd'))
for i = 1, #h, 2 do
  local first = tonumber(h[i]) * RM.PMD_NR
  local last = first + RM.PMD_NR - 1
  if first * 4096 < stop and (last + 1) * 4096 > start then
    if first * 4096 < start or (last + 1) * 4096 > stop then
      RM.zap_pmd(pid, tonumber(h[i]), h[i + 1], true)
    else
      local p = pte_decode(h[i + 1])
      local b = prot(p.bits)
      if b ~= p.bits then
        p.bits = b
        redis.call('HSET', mm_key(pid, 'pmd'), h[i], pte_encode(p))
        changed = changed + RM.PMD_NR
      end
    end
  end
end
for _, vpn in ipairs(redis.call('ZRANGEBYSCORE', KEY.pte_idx, I(start / 4096), I(stop / 4096 - 1))) do
  local s = redis.call('HGET', KEY.pte, vpn)
  if s then
    local p = pte_decode(s)
    local b = prot(p.bits)
    if b ~= p.bits then
      p.bits = b
      redis.call('HSET', KEY.pte, vpn, pte_encode(p))
      changed = changed + 1
    end
  end
end
return {'ok', I(changed)}
