-- RELEASE: up_read / up_write, then wake the waiters (lk_release).
-- KEYS: lock hash, wake list. ARGV: mode ('r' or 'w'), token.
-- Reply: {held (1, or 0 when the lease had already expired), waiters woken}
return lk_release(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
