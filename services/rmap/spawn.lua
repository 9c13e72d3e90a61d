-- copy_process / mm_alloc in miniature: a new pid with an empty mm (no VMAs), its mapcount policy and limits
local pid = redis.call('INCRBY', KEY.pids, ARG.count) - tonumber(ARG.count) + 1
local mm = 'mmsim:{mm:' .. pid .. '}:mm'
redis.call('HSET', mm, 'comm', ARG.comm, 'state', 'running', 'killed_reason', '', 'min_flt', 0, 'maj_flt', 0,
  'rss_file', 0, 'rss_anon', 0, 'map_count', 0, 'max_map_count', ARG.max_map_count, 'mapcount_limit', ARG.mapcount_limit,
  'mapcount_action', ARG.mapcount_action, 'mmap_base', ARG.mmap_base, 'nr_tasks', ARG.count, 'pins', 0)
redis.call('SADD', KEY.procs, pid)
return {'ok', pid}
