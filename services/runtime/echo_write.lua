-- One round trip of the echo baseline that writes (TraceService.Echo with writes): INCR of one counter,
-- so Redis appends to the AOF and fsyncs it before it answers (appendfsync always), as it does for every
-- script of a fault that writes. KEY: mmsim.runtime.trace_service.ECHO_WRITE (counter).
-- Reply: {'ok', the counter's new value}.
return {'ok', redis.call('INCR', KEY.counter)}
