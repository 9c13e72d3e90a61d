-- mmap_region (mm/mmap.c): insert the VMA (vma_link) and link it into the file's i_mmap, refused with ENOMEM
-- past vm.max_map_count
local st = redis.call('HMGET', KEY.mm, 'state', 'killed_reason', 'map_count', 'max_map_count')
if not st[1] then return {'nopid'} end
if st[1] ~= 'running' then return {'killed', st[2] or ''} end
local prev = redis.call('ZREVRANGEBYSCORE', KEY.vmas, '(' .. ARG.stop, '-inf', 'LIMIT', 0, 1)
if prev[1] and cjson.decode(prev[1]).e > tonumber(ARG.start) then return {'overlap'} end
if tonumber(st[3]) >= tonumber(st[4]) then return {'enomem', st[3]} end
-- an unlinked inode takes no new mappings: once its i_mmap is empty it stays empty (evict is due)
if redis.call('HGET', KEY.inode, 'nlink') == '0' then return {'unlinked'} end
redis.call('ZADD', KEY.vmas, ARG.start, ARG.vma)
redis.call('ZADD', KEY.i_mmap, ARG.pgoff, ARG.pid .. ':' .. ARG.start)
redis.call('HINCRBY', KEY.mm, 'map_count', 1)
return {'ok'}
