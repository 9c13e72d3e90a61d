"""Inclusive share of busy samples (all four services) for the suspects of issue 16."""
import sys, collections, re
KEYS = {
 "span export thread (RedisSpanExporter.export)": "RedisSpanExporter.export",
 "  of which its trim (ZCARD...)": "RedisSpanExporter._trim",
 "  of which span_to_dict/json": "span_to_dict",
 "RPC handler incl. its awaits (wrapped)": "intercept_service.<locals>.wrapped",
 "interceptor _finish (describe+annotate+log)": "RpcInterceptor._finish",
 "  structlog JSON line": "structlog",
 "  describe()": "describe (runtime/serve.py)",
 "otel span creation/end (start_as_current_span)": "start_as_current_span",
 "idempotency claim/store": "Replies.",
 "client interceptor (peers._ContextInterceptor)": "_ContextInterceptor.intercept_unary_unary",
 "redis-py async command path": "redis/asyncio/",
 "  RESP parser (pure Python)": "_parsers/",
 "Vma.from_json/to_json": "Vma.",
 "asyncio loop internals (_run_once self)": "@@runonce",
 "grpc core poller thread (native)": "@@threadrun",
}
def norm(fr):
    name = re.sub(r" \(/.*?site-packages/", " (", fr)
    name = re.sub(r" \(/work/wt/perf/", " (", name)
    return re.sub(r":\d+\)$", ")", name)
def idle(frames):
    leaf = frames[-1]
    return any(k in leaf for k in ("select (", "epoll", "wait (threading", "_wait_for_tstate_lock", "_handle_events")) or leaf.startswith("poll ")
tot = collections.Counter(); allb = 0
for path in sys.argv[1:]:
    for line in open(path):
        st, _, n = line.rstrip().rpartition(" ")
        if not st: continue
        n = int(n); frames = [norm(f) for f in st.split(";")]
        if idle(frames): continue
        allb += n; j = ";".join(frames)
        for label, k in KEYS.items():
            if k == "@@runonce": hit = frames[-1].startswith("BaseEventLoop._run_once") or frames[-1].startswith("BaseSelectorEventLoop")
            elif k == "@@threadrun": hit = frames[-1].startswith("Thread.run")
            else: hit = k in j
            if hit: tot[label] += n
print(f"busy samples (all four services): {allb}")
for label in KEYS:
    print(f"{100*tot[label]/allb:5.1f}%  {label}")
