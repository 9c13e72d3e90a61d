import sys, collections, re
path, root = sys.argv[1], sys.argv[2]
def norm(fr):
    name = re.sub(r" \(/.*?site-packages/", " (", fr)
    name = re.sub(r" \(/work/wt/perf/", " (", name)
    return re.sub(r":\d+\)$", ")", name)
tot = 0; incl = collections.Counter(); leafc = collections.Counter()
allbusy=0
for line in open(path):
    st, _, n = line.rstrip().rpartition(" ")
    if not st: continue
    n = int(n); frames = [norm(f) for f in st.split(";")]
    idx = next((i for i, f in enumerate(frames) if root in f), None)
    if idx is None: continue
    tot += n
    seen=set()
    for f in frames[idx:]:
        if f in seen: continue
        seen.add(f); incl[f] += n
    leafc[frames[-1]] += n
print(f"== {path} under {root}: {tot}")
for name, n in incl.most_common(int(sys.argv[3]) if len(sys.argv)>3 else 40):
    print(f"{100*n/tot:5.1f}%  {name}")
print("-- leaves")
for name, n in leafc.most_common(15):
    print(f"{100*n/tot:5.1f}%  {name}")
