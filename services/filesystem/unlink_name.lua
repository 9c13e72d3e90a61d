-- vfs_unlink's d_delete: the name leaves the directory if it still names this inode (fenced: the caller
-- holds the inode's locks). KEYS: 1 the filesystem's dir hash. ARGV: 1 path, 2 ino.
-- Reply: 1 removed, 0 the name was gone already or names another inode (an unlink run again by recovery).
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) return 1 end
return 0
