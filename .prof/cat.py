import sys, collections, re
CATS = [  # first match wins, checked from leaf upward? no: from root downward on specific frames
    ("span export to Redis (BatchSpanProcessor thread)", ["BatchProcessor.worker", "BatchSpanProcessor"]),
    ("OTLP/otel span end+processor on_end", ["Span.end", "on_end"]),
    ("interceptor: JSON log line (structlog)", ["structlog"]),
    ("interceptor: describe() req/resp", ["describe (runtime/serve.py)"]),
    ("interceptor: span attributes", ["annotate_many", "set_attribute"]),
    ("interceptor: idempotency claim/store", ["Replies.claim", "Replies.finish"]),
    ("otel: span creation", ["start_as_current_span", "start_span", "use_span"]),
    ("redis-py: RESP parse (pure Python)", ["_parsers/resp3", "_parsers/base", "_parsers/socket"]),
    ("redis-py: send/pack/pool", ["redis/"]),
    ("JSON encode/decode", ["json/"]),
    ("protobuf/grpc stubs", ["grpc/", "cygrpc", "protobuf"]),
]
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
        allb += n
        joined = ";".join(frames)
        for cat, keys in CATS:
            if any(k in joined for k in keys):
                tot[cat] += n; break
        else:
            # handler logic if in services, else asyncio/other
            if "(rmap/" in joined.split("wrapped")[-1] or any(f"({s}/" in joined for s in ("rmap","pagecache","filesystem","allocator")) and "wrapped" in joined:
                tot["service logic (handlers, Lua call prep)"] += n
            elif "asyncio" in joined:
                tot["asyncio event loop"] += n
            else:
                tot["other"] += n
print(f"busy samples, all four services: {allb}")
for c, n in tot.most_common():
    print(f"{100*n/allb:5.1f}%  {c}")
