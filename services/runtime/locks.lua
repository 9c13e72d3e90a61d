-- mmsim sleeping locks in Redis (models kernel/locking/rwsem.c's rw_semaphore, with a lease and a fencing
-- token because a holder here is a call chain that may die). One hash per lock, in the mapping's tag:
--   seq            fencing counter: every grant takes the next value as its token
--   lease          the lease length (ms) of the latest grant; a fenced step renews its holder's lease by it
--   w, w_owner, w_exp     the writer's token, task and lease expiry (ms, Redis TIME)
--   r:TOKEN, ro:TOKEN     a reader's lease expiry and task
--   ww:WAITER, rw:WAITER  a writer / reader waiting, and until when (ms); a waiting writer keeps new readers
--                         out (writer preference, as rwsem_down_read_slowpath queues behind a waiting writer)
-- A waiter blocks on the lock's wake list (BLPOP); a release pushes one wake-up per waiter.

local function lk_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- drop expired leases and expired waiters; returns readers, writers waiting, readers waiting (live)
local function lk_purge(key, now)
  local h = redis.call('HGETALL', key)
  local readers, wwait, rwait = 0, 0, 0
  for i = 1, #h, 2 do
    local f, v = h[i], tonumber(h[i + 1])
    if string.sub(f, 1, 2) == 'r:' then
      if v < now then redis.call('HDEL', key, f, 'ro:' .. string.sub(f, 3)) else readers = readers + 1 end
    elseif string.sub(f, 1, 3) == 'ww:' then
      if v < now then redis.call('HDEL', key, f) else wwait = wwait + 1 end
    elseif string.sub(f, 1, 3) == 'rw:' then
      if v < now then redis.call('HDEL', key, f) else rwait = rwait + 1 end
    end
  end
  local wexp = tonumber(redis.call('HGET', key, 'w_exp') or '-1')
  if wexp >= 0 and wexp < now then redis.call('HDEL', key, 'w', 'w_owner', 'w_exp') end
  return readers, wwait, rwait
end

-- the fencing check every script acting under a lock runs first: `spec` is 'r:TOKEN' or 'w:TOKEN'
-- (or '' for a caller that holds no lock on this mapping). A live token's lease is renewed.
local function lk_fence(key, spec)
  if spec == nil or spec == '' then return end
  local mode, token = string.sub(spec, 1, 1), string.sub(spec, 3)
  local now = lk_now()
  local lease = tonumber(redis.call('HGET', key, 'lease') or '0')
  if mode == 'w' then
    local exp = tonumber(redis.call('HGET', key, 'w_exp') or '-1')
    if redis.call('HGET', key, 'w') == token and exp >= now then
      redis.call('HSET', key, 'w_exp', now + lease)
      return
    end
  else
    local exp = tonumber(redis.call('HGET', key, 'r:' .. token) or '-1')
    if exp >= now then
      redis.call('HSET', key, 'r:' .. token, now + lease)
      return
    end
  end
  error('MMSIM Aborted ESTALE: fencing token ' .. token .. ' of ' .. key .. ' is no longer held (its lease '
        .. 'expired and the lock may have been granted again); this step was refused and changed nothing', 0)
end

-- wake every waiter: one entry per waiter on the wake list (each BLPOP takes one and tries again)
local function lk_wake(key, wake, now)
  local _, wwait, rwait = lk_purge(key, now)
  local n = wwait + rwait
  redis.call('DEL', wake)
  if n > 0 then
    for _ = 1, n do redis.call('RPUSH', wake, '1') end
    redis.call('PEXPIRE', wake, 60000)
  end
  return n
end

-- up_read / up_write of the grant with `token`, then wake the waiters. Returns {held (1, or 0 when the lease
-- had already expired), waiters woken}
local function lk_release(key, wake, mode, token)
  local held = 0
  if mode == 'w' then
    if redis.call('HGET', key, 'w') == token then
      redis.call('HDEL', key, 'w', 'w_owner', 'w_exp')
      held = 1
    end
  else
    held = redis.call('HDEL', key, 'r:' .. token, 'ro:' .. token) > 0 and 1 or 0
  end
  return {held, lk_wake(key, wake, lk_now())}
end
