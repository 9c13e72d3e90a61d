-- The start of write(2) under i_rwsem (fenced): generic_write_checks on a live file, i_size grown to the
-- write's end first (a reader after the write sees the new size; the bytes follow in the same locked
-- section). KEY and ARG: mmsim.filesystem.fileio.WRITE_BEGIN.
-- Replies: {'inode', the inode's fields (HGETALL)...} | {'nofile'} | {'unlinked'} (no name: only its mappings
-- remain).
if redis.call('EXISTS', KEY.inode) == 0 then return {'nofile'} end
if tonumber(redis.call('HGET', KEY.inode, 'nlink')) == 0 then return {'unlinked'} end
local size = tonumber(redis.call('HGET', KEY.inode, 'i_size'))
if tonumber(ARG.write_end) > size then redis.call('HSET', KEY.inode, 'i_size', ARG.write_end) end
local out = redis.call('HGETALL', KEY.inode)
table.insert(out, 1, 'inode')
return out
