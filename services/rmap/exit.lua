-- exit_mmap (mm/mmap.c) + release of the pid. A client's Exit records what it did under its request id
-- (KEY.did, when ARG.did_ttl_ms > 0: mmsim.runtime.idempotency.marker): a retry finds the pid gone because
-- its first attempt released it, and answers with these counts instead of NOT_FOUND.
vm_spans(ARG.spans)
local pid = tonumber(ARG.pid)
if redis.call('EXISTS', KEY.mm) == 0 then return {'nopid'} end
local zapped, nv = rm_teardown(pid)
local root = RM.anon_root(KEY.mm, pid)
redis.call('SREM', mm_key(root, 'anon_vma'), ARG.pid)   -- unlink_anon_vmas
redis.call('DEL', KEY.mm)
redis.call('SREM', KEY.procs, ARG.pid)
local out = {'ok', I(zapped), I(nv), rm_evictable()}
for _, x in ipairs(rm_freed_flat()) do out[#out + 1] = x end
if tonumber(ARG.did_ttl_ms) > 0 then
  redis.call('SET', KEY.did, cjson.encode({zapped = zapped, vmas = nv, freed = (#out - 4) / 3}), 'PX', ARG.did_ttl_ms)
end
return out
