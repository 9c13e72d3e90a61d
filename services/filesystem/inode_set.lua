-- INODE_SET: change inode fields under the inode's lock (fenced: the caller's token is checked first).
-- KEYS: inode hash. ARGV: i_size ('' = unchanged), bump data_seq ('1' / '0'), nlink ('' = unchanged).
-- Reply: 1, or 0 when the inode is gone.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'i_size', ARGV[1]) end
if ARGV[2] == '1' then redis.call('HINCRBY', KEYS[1], 'data_seq', 1) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'nlink', ARGV[3]) end
return 1
