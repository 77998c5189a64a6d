import sys, pytrec_eval
qrels = {}
for i, line in enumerate(open(sys.argv[1])):
    p = line.rstrip("\n").split("\t")
    if i == 0 and not p[2].lstrip("-").isdigit():
        continue
    qrels.setdefault(p[0], {})[p[1]] = int(p[2])
run = {}
for line in open(sys.argv[2]):
    q, _, d, r, s, _ = line.split()
    run.setdefault(q, {})[d] = float(s)
qrels = {q: r for q, r in qrels.items() if q in run or True}
ev = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100", "recip_rank"})
res = ev.evaluate(run)
qs = [q for q in qrels if any(g > 0 for g in qrels[q].values())]
import statistics
def mean(m): return sum(res.get(q, {}).get(m, 0.0) for q in qs) / len(qs)
print({"ndcg_at_10": round(mean("ndcg_cut_10"), 6), "recall_at_100": round(mean("recall_100"), 6), "queries": len(qs)})
