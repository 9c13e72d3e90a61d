-- A failed fault after the page cache answered (SIGBUS/OOM): mm_account_fault still counts pgfault.
redis.call('HINCRBY', 'mmsim:{node:' .. ARG.node .. '}:vmstat', 'pgfault', 1)
return {'ok'}
