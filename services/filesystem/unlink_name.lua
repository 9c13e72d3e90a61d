-- vfs_unlink's d_delete: the name leaves the directory if it still names this inode (fenced: the caller
-- holds the inode's locks). KEY and ARG: mmsim.filesystem.truncate.UNLINK_NAME.
-- Replies: {'removed'} | {'kept'}: the name was gone already or names another inode (an unlink run again by
-- recovery).
if redis.call('HGET', KEY.dir, ARG.path) == ARG.ino then redis.call('HDEL', KEY.dir, ARG.path) return {'removed'} end
return {'kept'}
