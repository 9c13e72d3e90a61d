-- mmsim's in-flight allocation ledger (part of the vmemmap library; no kernel analogue: a kernel that
-- dies loses every page with it, a service that dies must not). Per node, hash {node:N}:ledger:
--   head pfn -> 'ORDER:SINCE_MS:PURPOSE:TRACE'
-- SINCE_MS is the Redis clock when the entry was written; the recovery pass (FREE's ledger recovery mode, n = -2)
-- gives back to the buddy lists every entry older than MMSIM_LEDGER_DEADLINE_MS (its deadline is
-- SINCE_MS + that). PURPOSE names who took the pages (pagecache, anon, unshare) or why they wait
-- (unmap-free, cache-free: a script decided to free them, a later FreePages does it). TRACE is the W3C
-- trace id of the request (the owner), '' when the script does not know it.
-- All functions act on the node vm_init/vm_node selected.

local function ledger_now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function ledger_put(pfn, order, purpose, trace)
  redis.call('HSET', VM_PREFIX .. 'ledger', string.format('%d', pfn),
    string.format('%d:%d:%s:%s', order, ledger_now_ms(), purpose, trace or ''))
end

local function ledger_parse(v)
  local order, since, purpose, trace = string.match(v, '^(%d+):(%d+):([^:]*):(.*)$')
  return {order = tonumber(order), since = tonumber(since), purpose = purpose, trace = trace}
end

-- may the consumer in `trace` take the in-flight block at pfn over? nil = yes (or there is no entry and
-- the page is allocated), else the reason it may not. Writes nothing: call ledger_drop after every check.
local function ledger_check_take(pfn, trace)
  local v = redis.call('HGET', VM_PREFIX .. 'ledger', string.format('%d', pfn))
  if v then
    local e = ledger_parse(v)
    if e.trace ~= '' and trace ~= nil and trace ~= '' and e.trace ~= trace then
      return string.format('pfn %d is in flight for another request (trace %s, %s)', pfn, e.trace, e.purpose)
    end
    return nil
  end
  local p = page_get(pfn)
  if page_is_type(p, PT_BUDDY) or p.refcount <= 0 then
    return string.format('pfn %d is free: its in-flight allocation passed its deadline and was reclaimed', pfn)
  end
  return nil
end

local function ledger_drop(pfn)
  redis.call('HDEL', VM_PREFIX .. 'ledger', string.format('%d', pfn))
end
