-- INODE_SET: change inode fields under the inode's lock (fenced: the caller's token is checked first).
-- KEY and ARG: mmsim.filesystem.inode.INODE_SET (i_size and nlink '' = unchanged, bump_seq '1' / '0').
-- Replies: {'set'} | {'gone'}: the inode is gone.
if redis.call('EXISTS', KEY.inode) == 0 then return {'gone'} end
if ARG.i_size ~= '' then redis.call('HSET', KEY.inode, 'i_size', ARG.i_size) end
if ARG.bump_seq == '1' then redis.call('HINCRBY', KEY.inode, 'data_seq', 1) end
if ARG.nlink ~= '' then redis.call('HSET', KEY.inode, 'nlink', ARG.nlink) end
return {'set'}
