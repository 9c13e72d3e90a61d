-- create (fs/namei.c vfs_create with O_EXCL, linking the new inode under its name): the name, the inode and
-- the cluster's list of mappings in ONE step, so a crash leaves the whole file or nothing (no inode without a
-- name, no name without an inode). The inode number was taken before (HINCRBY next_ino: a number a crash
-- skips is never reused, as on a real filesystem). Crosses {fs:NAME}, {m:MAPPING} and {cluster}.
-- KEY and ARG: mmsim.filesystem.inode.CREATE. Replies: {'created'} | {'exists'} (the name is taken).
if redis.call('HEXISTS', KEY.dir, ARG.path) == 1 then return {'exists'} end
redis.call('HSET', KEY.dir, ARG.path, ARG.ino)
redis.call('HSET', KEY.inode, unpack(ARG.fields))
redis.call('SADD', KEY.mappings, ARG.mapping)
return {'created'}
