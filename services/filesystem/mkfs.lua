-- mkfs: the superblock and its place in the cluster's set of filesystems, in one step (a crash leaves the
-- filesystem or nothing). Crosses {fs:NAME} and {cluster}. KEY and ARG: mmsim.filesystem.superblock.MKFS.
-- Replies: {'created'} | {'exists'} (the name is taken: ALREADY_EXISTS).
if redis.call('EXISTS', KEY.sb) == 1 then return {'exists'} end
redis.call('HSET', KEY.sb, unpack(ARG.fields))
redis.call('SADD', KEY.filesystems, ARG.name)
return {'created'}
