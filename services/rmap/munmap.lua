-- munmap (mm/vma.c do_vmi_munmap): zap, unlink, keep the pieces outside the range (of VMAs and MapMany runs).
vm_spans(ARG.spans)
local pid, start, stop = tonumber(ARG.pid), tonumber(ARG.start), tonumber(ARG.stop)
local st = redis.call('HMGET', KEY.mm, 'state', 'killed_reason', 'map_count', 'max_map_count')
if not st[1] then return {'nopid'} end
if st[1] ~= 'running' then return {'killed', st[2] or ''} end
local plan = cjson.decode(ARG.plan)
local now = redis.call('ZRANGEBYSCORE', KEY.vmas, '-inf', '(' .. ARG.stop)
local live = 0
for _, m in ipairs(now) do if cjson.decode(m).e > start then live = live + 1 end end
if live ~= #plan then return {'retry'} end
local delta = 0
for _, item in ipairs(plan) do
  local v = cjson.decode(item.old)
  local cur = redis.call('ZRANGEBYSCORE', KEY.vmas, I(v.s), I(v.s))
  if cur[1] ~= item.old then return {'retry'} end
  delta = delta + #item.new - 1
end
-- MapMany runs in range: each must be as planned, and no other run may have appeared
local runs = cjson.decode(ARG.run_plan)
local overlapping = 0
for _, run in ipairs(RM.runs(pid)) do
  if run.r.s < stop and run.r.s + run.r.n * 4096 > start then overlapping = overlapping + 1 end
end
if overlapping ~= #runs then return {'retry'} end
for _, item in ipairs(runs) do
  if redis.call('HGET', KEY.runs, I(cjson.decode(item.old).s)) ~= item.old then return {'retry'} end
end
if delta > 0 and tonumber(st[3]) + delta > tonumber(st[4]) then return {'enomem'} end
local zapped = 0
for _, item in ipairs(plan) do
  local v = cjson.decode(item.old)
  local lo, hi = math.max(v.s, start) / 4096, math.min(v.e, stop) / 4096 - 1
  zapped = zapped + rm_zap_range(pid, lo, hi, true)
  redis.call('ZREM', KEY.vmas, item.old)
  rm_i_mmap_del(v.m, pid, v.s)
  for _, n in ipairs(item.new) do
    local w = cjson.decode(n)
    redis.call('ZADD', KEY.vmas, I(w.s), n)
    redis.call('ZADD', map_key(w.m, 'i_mmap'), I(w.pg), I(pid) .. ':' .. I(w.s))
  end
end
local tasks = tonumber(redis.call('HGET', KEY.mm, 'nr_tasks') or '1')
for _, item in ipairs(runs) do
  zapped = zapped + RM.split_run(pid, item, tasks)
  delta = delta - item.k
end
redis.call('HINCRBY', KEY.mm, 'map_count', delta)
local out = {'ok', I(zapped), rm_evictable()}
for _, x in ipairs(rm_freed_flat()) do out[#out + 1] = x end
return out
