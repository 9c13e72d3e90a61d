-- kthread_park / kthread_unpark (kernel/kthread.c) for kswapd, across every allocator replica. A parker (a
-- cluster-wide CONFIG_DEBUG_VM check) parks kswapd and waits for the passes under way; a kswapd pass begins
-- only while nobody parks it. Every registration is a lease (Redis TIME, ms), so a process that died parks
-- nothing and holds up no one for longer than its lease.
--   parkers   zset: parker id -> lease expiry        passes   zset: kswapd pass id -> lease expiry
--   waiting   zset: parked kswapd id -> lease expiry drained  list: a token per parker, pushed when the last
--   unpark    list: a token per waiting kswapd, pushed when the last parker goes   pass of a parked machine ends
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, k in ipairs({KEY.parkers, KEY.passes, KEY.waiting}) do
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
end
local lease = tonumber(ARG.lease_ms)

-- ms until the last lease of zset `key` runs out
local function left(key)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  return last[2] and math.max(0, tonumber(last[2]) - now) or 0
end

-- `n` wake-up tokens on list `key` (replacing what a late waiter never took), kept one lease
local function wake(key, n)
  redis.call('DEL', key)
  for _ = 1, n do redis.call('RPUSH', key, 1) end
  if n > 0 then redis.call('PEXPIRE', key, lease) end
end

if ARG.op == 'begin' then
  if redis.call('ZCARD', KEY.parkers) > 0 then
    redis.call('ZADD', KEY.waiting, now + lease, ARG.id)
    return {'wait', left(KEY.parkers)}
  end
  redis.call('ZREM', KEY.waiting, ARG.id)
  redis.call('ZADD', KEY.passes, now + lease, ARG.id)
  return {'run'}
elseif ARG.op == 'renew' then
  if redis.call('ZSCORE', KEY.passes, ARG.id) then redis.call('ZADD', KEY.passes, now + lease, ARG.id) end
  return {'renewed'}
elseif ARG.op == 'end' then
  redis.call('ZREM', KEY.passes, ARG.id)
  local parkers = redis.call('ZCARD', KEY.parkers)
  if parkers > 0 and redis.call('ZCARD', KEY.passes) == 0 then wake(KEY.drained, parkers) end
  return {'ended'}
elseif ARG.op == 'park' then
  redis.call('ZADD', KEY.parkers, now + lease, ARG.id)
  return {'parked', redis.call('ZCARD', KEY.passes), left(KEY.passes)}
end
-- unpark
redis.call('ZREM', KEY.parkers, ARG.id)
local woken = 0
if redis.call('ZCARD', KEY.parkers) == 0 then
  woken = redis.call('ZCARD', KEY.waiting)
  wake(KEY.unpark, woken)
end
return {'unparked', woken}
