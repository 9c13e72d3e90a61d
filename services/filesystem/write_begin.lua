-- The start of write(2) under i_rwsem (fenced): generic_write_checks on a live file, i_size grown to the
-- write's end first (a reader after the write sees the new size; the bytes follow in the same locked
-- section). KEYS: 1 inode. ARGV: 1 the write's end (bytes).
-- Reply: the inode's fields (HGETALL) | {-1} no such file | {-2} unlinked (no name: only its mappings remain).
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
if tonumber(redis.call('HGET', KEYS[1], 'nlink')) == 0 then return {-2} end
local size = tonumber(redis.call('HGET', KEYS[1], 'i_size'))
if tonumber(ARGV[1]) > size then redis.call('HSET', KEYS[1], 'i_size', ARGV[1]) end
return redis.call('HGETALL', KEYS[1])
