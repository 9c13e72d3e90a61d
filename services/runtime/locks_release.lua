-- RELEASE: up_read / up_write, then wake the waiters (lk_release). KEY and ARG: mmsim.runtime.locks.RELEASE.
-- Reply: {'released', held (1, or 0 when the lease had already expired), waiters woken}
local r = lk_release(KEY.lock, KEY.wake, ARG.mode, ARG.token)
return {'released', r[1], r[2]}
