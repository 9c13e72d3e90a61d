-- ACQUIRE (lk_acquire): down_read / down_write, or register as a waiter. KEY and ARG: mmsim.runtime.locks.ACQUIRE
-- (mode 'r' or 'w'; task: the owner; recovering '1': an interrupted operation's intent does not stop this
-- grant; load '1': return the inode's fields; must_exist '1': the inode must exist).
-- Reply: {'OK', token, lease expiry (ms), {inode fields...}} | {'WAIT', holder task, holder's lease left (ms)}
--        | {'INTENT', operation}: the lock is free but an interrupted operation must be finished first
--        | {'NOENT'}: the inode does not exist (nothing written: no lock of a file that is not there)
-- A step (mmsim.runtime.locks.Step) runs in the same script once the lock is granted, with its own KEY and
-- ARG names declared beside these: its reply follows, {'OK', token, expiry, {fields}, {step reply}}.
local function lk_acquire()
  if ARG.must_exist == '1' and redis.call('EXISTS', KEY.inode) == 0 then return {'NOENT'} end
  local key, mode, task, waiter = KEY.lock, ARG.mode, ARG.task, ARG.waiter
  local lease, waitreg = tonumber(ARG.lease_ms), tonumber(ARG.waitreg_ms)
  local now = lk_now()
  local readers, wwait = lk_purge(key, now)
  local writer = redis.call('HGET', key, 'w')
  local free
  if mode == 'w' then
    free = not writer and readers == 0
  else
    free = not writer and wwait == 0
  end
  if not free then
    redis.call('HSET', key, (mode == 'w' and 'ww:' or 'rw:') .. waiter, now + waitreg)
    local holder, left = '', 0
    if writer then
      holder = redis.call('HGET', key, 'w_owner') or ''
      left = tonumber(redis.call('HGET', key, 'w_exp')) - now
    else
      local h = redis.call('HGETALL', key)
      for i = 1, #h, 2 do
        if string.sub(h[i], 1, 2) == 'r:' then
          local l = tonumber(h[i + 1]) - now
          if l > left then left, holder = l, redis.call('HGET', key, 'ro:' .. string.sub(h[i], 3)) or '' end
        elseif mode == 'r' and string.sub(h[i], 1, 3) == 'ww:' then
          holder = 'a waiting writer'
          left = math.max(left, tonumber(h[i + 1]) - now)
        end
      end
    end
    return {'WAIT', holder, left}
  end
  if ARG.recovering ~= '1' and redis.call('EXISTS', KEY.intent) == 1 then
    return {'INTENT', redis.call('HGET', KEY.intent, 'op') or '?'}
  end
  local token = redis.call('HINCRBY', key, 'seq', 1)
  redis.call('HDEL', key, 'ww:' .. waiter, 'rw:' .. waiter)
  redis.call('HSET', key, 'lease', lease)
  if mode == 'w' then
    redis.call('HSET', key, 'w', token, 'w_owner', task, 'w_exp', now + lease)
  else
    redis.call('HSET', key, 'r:' .. token, now + lease, 'ro:' .. token, task)
  end
  local fields = {}
  if ARG.load == '1' then fields = redis.call('HGETALL', KEY.inode) end
  return {'OK', token, now + lease, fields}
end
