-- vfs_unlink's d_delete: the name leaves the directory if it still names this inode (fenced: the caller
-- holds the inode's locks). KEY and ARG: mmsim.filesystem.truncate.UNLINK_NAME.
-- Replies: {'removed'} | {'kept'}: the name was gone already or names another inode (an unlink run again by
-- recovery). A removal by a client's Unlink is recorded under its request id (KEY.did, when ARG.did_ttl_ms
-- > 0: mmsim.runtime.idempotency.marker), so its retry knows the name is gone because it removed it.
if redis.call('HGET', KEY.dir, ARG.path) == ARG.ino then
  redis.call('HDEL', KEY.dir, ARG.path)
  if tonumber(ARG.did_ttl_ms) > 0 then redis.call('SET', KEY.did, ARG.mapping, 'PX', ARG.did_ttl_ms) end
  return {'removed'}
end
return {'kept'}
