import sys, collections, re
def load(path):
    stacks = []
    for line in open(path):
        line = line.rstrip()
        if not line: continue
        st, _, n = line.rpartition(" ")
        frames = st.split(";")
        stacks.append((frames, int(n)))
    return stacks
IDLE = ("select", "epoll", "poll (", "_run_once", "wait (threading", "_poll", "cygrpc", "sleep")
def is_idle(frames):
    leaf = frames[-1]
    return any(k in leaf for k in ("select (", "epoll", "wait (threading", "_wait_for_tstate_lock", "poll (grpc", "_handle_events")) or leaf.startswith("poll ")
for path in sys.argv[1:]:
    stacks = load(path)
    total = sum(n for _, n in stacks)
    busy = [(f, n) for f, n in stacks if not is_idle(f)]
    bt = sum(n for _, n in busy)
    incl = collections.Counter()
    for f, n in busy:
        seen = set()
        for fr in f:
            name = re.sub(r" \(/.*?site-packages/", " (", fr)
            name = re.sub(r" \(/work/wt/perf/", " (", name)
            name = re.sub(r":\d+\)$", ")", name)
            if name in seen: continue
            seen.add(name); incl[name] += n
    print(f"== {path}: {total} samples, busy {bt}")
    for name, n in incl.most_common(45):
        print(f"{100*n/bt:5.1f}%  {name}")
