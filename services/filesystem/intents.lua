-- INTENT_BEGIN / INTENT_DONE: record an operation before its first step, clear it after its last.
-- (fenced: the caller's lock on the mapping is checked first; see mmsim.runtime.lua.Script)
-- KEYS: the mapping's intent hash. ARGV: 'begin', operation, its arguments (JSON), task | 'done'.
-- Reply: 1
if ARGV[1] == 'begin' then
  redis.call('HSET', KEYS[1], 'op', ARGV[2], 'args', ARGV[3], 'task', ARGV[4])
else
  redis.call('DEL', KEYS[1])
end
return 1
