-- mmsim OOM killer (models mm/oom_kill.c select_bad_process / oom_badness / oom_kill_process, with the reverse
-- map's exit_mmap, rm_teardown, for __oom_reap_task_mm). Runs after the vmemmap library and RMAP_LUA_LIB.
-- One atomic step: the victim is chosen, marked killed and torn down (every PTE zapped, every VMA unlinked);
-- its pages whose last reference went enter the in-flight ledger ('unmap-free') for the caller to free.
--
-- KEY and ARG: mmsim.allocator.vmscan.OOM_KILL.
-- Replies: {'none'} when no process has memory to give | {'killed', pid, comm, points, message, evictable
--          mappings, (node, pfn, order) of every folio to free...}
vm_spans(ARG.spans)
local victim, best, comm, rss = nil, -1, '', {}
local pids = redis.call('SMEMBERS', KEY.procs)
table.sort(pids, function(a, b) return tonumber(a) < tonumber(b) end)
for _, pid in ipairs(pids) do
  local h = redis.call('HMGET', mm_key(pid, 'mm'), 'state', 'rss_file', 'rss_anon', 'comm')
  -- oom_badness: get_mm_rss (file + anon; no swap entries, page tables not modelled); an equal score
  -- replaces the one chosen before, as select_bad_process's "points < chosen_points" skips only lower ones
  local points = tonumber(h[2] or '0') + tonumber(h[3] or '0')
  if h[1] == 'running' and points > 0 and points >= best then
    victim, best, comm, rss = tonumber(pid), points, h[4] or '', {tonumber(h[2] or '0'), tonumber(h[3] or '0')}
  end
end
if not victim then return {'none'} end
local total_vm = 0
for _, v in ipairs(redis.call('ZRANGE', mm_key(victim, 'vmas'), 0, -1)) do
  local d = cjson.decode(v)
  total_vm = total_vm + (d.e - d.s) / 1024
end
local msg = string.format('Out of memory: Killed process %d (%s) total-vm:%dkB, anon-rss:%dkB, file-rss:%dkB, '
  .. 'shmem-rss:0kB, UID:0 pgtables:0kB oom_score_adj:0 (gfp_mask=%s, order=%s)', victim, comm, total_vm,
  rss[2] * 4, rss[1] * 4, ARG.gfp, ARG.order)
rm_teardown(victim)
redis.call('HSET', mm_key(victim, 'mm'), 'state', 'killed', 'killed_reason', msg)
redis.call('HINCRBY', node_key(0, 'vmstat'), 'oom_kill', 1)
local out = {'killed', victim, comm, best, msg, rm_evictable()}
for _, x in ipairs(rm_freed_flat()) do out[#out + 1] = x end
return out
