-- MapMany: `n` one-page VMAs of one file page in each of the mm's nr_tasks processes, as one counted run
-- (mmap_region + finish_fault n times, O(1) here). The LSFMM 2018 mapcount policy decides: kill (Wilcox:
-- the task that would map the page more than `limit` times, or push _mapcount past its maximum, is killed;
-- exit_mmap undoes its mappings), leak (Morton: the page is pinned, never freed, and the counter saturates),
-- none (mainline: _mapcount and _refcount wrap around in their `bits`-bit two's complement).
vm_spans(ARG.spans)
local st = redis.call('HMGET', KEY.mm, 'state', 'killed_reason', 'map_count', 'max_map_count', 'nr_tasks')
if not st[1] then return {'nopid'} end
if st[1] ~= 'running' then return {'killed', st[2] or ''} end
local pid, r = tonumber(ARG.pid), cjson.decode(ARG.run)
local n, tasks = r.n, tonumber(st[5] or '1')
if tonumber(st[3]) + n > tonumber(st[4]) then return {'enomem', st[3]} end
local stop = r.s + n * 4096
local prev = redis.call('ZREVRANGEBYSCORE', KEY.vmas, '(' .. I(stop), '-inf', 'LIMIT', 0, 1)
if prev[1] and cjson.decode(prev[1]).e > r.s then return {'retry', 'the range was mapped meanwhile'} end
for _, run in ipairs(RM.runs(pid)) do
  if run.r.s < stop and run.r.s + run.r.n * 4096 > r.s then return {'retry', 'the range was mapped meanwhile'} end
end
if redis.call('HGET', KEY.inode, 'nlink') == '0' then return {'unlinked'} end
if not RM.folio_is(r.node, r.head, r.m, r.index) then return {'retry', 'the folio left the page cache'} end

local limit, action, bits = tonumber(ARG.limit), ARG.action, r.b
local MAX = 2 ^ (bits - 1) - 1
local pk = I(r.node) .. ':' .. I(r.pfn)
local c = tonumber(redis.call('HGET', KEY.pagemaps, pk) or '0')
local total = n * tasks
local mc, rc = page_get_field(r.pfn, 'mapcount'), page_get_field(r.head, 'refcount')
local over_limit = limit > 0 and action ~= 'none' and c + n > limit
if action == 'kill' and (over_limit or mc + total > MAX or rc + total > MAX) then
  local why = over_limit and string.format('pfn %d would be mapped %d times by pid %d (mapcount_limit %d)', r.pfn, c + n, pid, limit)
    or string.format('_mapcount of pfn %d would pass %d', r.pfn, MAX)
  local reason = 'killed by the mapcount limit: ' .. why
  rm_teardown(pid)
  redis.call('HSET', KEY.mm, 'state', 'killed', 'killed_reason', reason)
  rm_stat(r.node, 'mmsim_mapcount_kills', tasks)
  local out = {'killed_now', reason, rm_evictable()}
  for _, x in ipairs(rm_freed_flat()) do out[#out + 1] = x end
  return out
end
local counted, pinned, wraps = total, 0, 0
local new_mc, new_rc
if action == 'leak' then
  if over_limit or mc + total > MAX or rc + total > MAX then
    if redis.call('SADD', node_key(r.node, 'rmap_pinned'), I(r.head)) == 1 then
      rc = rc + 1
      rm_stat(r.node, 'mmsim_mapcount_leaked', 1)
    end
    pinned = 1
  end
  counted = math.max(0, math.min(total, MAX - mc, MAX - rc))   -- the rest saturates: installed, not counted
  if total > counted then rm_stat(r.node, 'mmsim_mapcount_saturated', total - counted) end
  new_mc, new_rc = mc + counted, rc + counted
else
  wraps = math.floor((mc + total + MAX + 1) / (2 * (MAX + 1)))   -- times the count passed MAX
  new_mc, new_rc = RM.wrap(mc + total, bits), RM.wrap(rc + total, bits)
  if wraps > 0 then rm_stat(r.node, 'mmsim_mapcount_wraps', wraps) end
end
-- folio_add_file_rmap: NR_FILE_MAPPED counts each -1 -> 0 transition of _mapcount
local m2 = 2 * (MAX + 1)
local firsts = math.floor((mc + counted) / m2) - math.floor(mc / m2)
if firsts > 0 then rm_stat(r.node, 'nr_mapped', firsts) end
page_set_field(r.pfn, 'mapcount', new_mc)
page_set_field(r.head, 'refcount', new_rc)
redis.call('HSET', KEY.runs, I(r.s), ARG.run, I(r.s) .. ':c', I(counted))
redis.call('ZADD', KEY.i_mmap, I(r.pg), I(pid) .. ':' .. I(r.s))
redis.call('HINCRBY', KEY.mm, 'map_count', n)
redis.call('HINCRBY', KEY.mm, 'rss_file', n)
redis.call('HINCRBY', KEY.pagemaps, pk, n)
return {'ok', I(total), I(tasks), I(pinned), I(total - counted), I(wraps), I(new_mc), I(new_rc)}
