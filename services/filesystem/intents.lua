-- INTENT_BEGIN / INTENT_DONE: record an operation before its first step, clear it after its last.
-- (fenced: the caller's lock on the mapping is checked first; see mmsim.runtime.lua.SpecScript)
-- KEY and ARG: mmsim.filesystem.intents.INTENT (action 'begin': record op, its args (JSON) and task;
-- 'done': clear). Reply: {'ok'}
if ARG.action == 'begin' then
  redis.call('HSET', KEY.intent, 'op', ARG.op, 'args', ARG.args, 'task', ARG.task)
else
  redis.call('DEL', KEY.intent)
end
return {'ok'}
