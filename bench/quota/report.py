#!/usr/bin/env python3
"""bench/quota/report.py: reads the emulator's /stats samples that run.sh
took (wall time, cumulative emails) and prints the aggregate rate, the worst
one-second window and, for an outage run, what was sent while Redis was
down and how soon sending resumed."""
import argparse
import bisect
import json

ap = argparse.ArgumentParser()
ap.add_argument("--samples", required=True)
ap.add_argument("--start", type=float, required=True)
ap.add_argument("--rate", type=float, required=True)
ap.add_argument("--seconds", type=float, required=True)
ap.add_argument("--processes", type=int, required=True)
ap.add_argument("--down", type=float)
ap.add_argument("--up", type=float)
ap.add_argument("--json")
a = ap.parse_args()

t, n = [], []
for line in open(a.samples):
    ts, count = line.split()
    t.append(float(ts) - a.start)
    n.append(int(count))


def at(x):
    """Emails counted by time x (linear between samples)."""
    i = bisect.bisect_left(t, x)
    if i <= 0:
        return n[0]
    if i >= len(t):
        return n[-1]
    f = (x - t[i - 1]) / (t[i] - t[i - 1])
    return n[i - 1] + f * (n[i] - n[i - 1])


lo, hi = 2.0, 2.0 + a.seconds
out = {"processes": a.processes, "quota": a.rate, "seconds": a.seconds}
if a.down is None:
    agg = (at(hi) - at(lo)) / (hi - lo)
    out["aggregate_per_second"] = round(agg, 1)
    out["aggregate_share"] = round(agg / a.rate, 4)
else:
    out["total_emails"] = n[-1]
# Worst one-second window over the whole run, sample to sample.
worst, worst_at = 0.0, 0.0
for i in range(len(t)):
    j = bisect.bisect_left(t, t[i] + 1.0)
    if j < len(t):
        span = t[j] - t[i]
        rate = (n[j] - n[i]) / span if span <= 1.2 else 0
        if rate > worst:
            worst, worst_at = rate, t[i]
out["worst_second"] = round(worst, 1)
out["worst_second_at"] = round(worst_at, 2)
out["worst_second_share"] = round(worst / a.rate, 4)
if a.down is not None and a.up is not None:
    down, up = a.down - a.start, a.up - a.start
    out["redis_down_at"] = round(down, 2)
    out["redis_down_for"] = round(up - down, 2)
    # Step semantics (no interpolation): the count at the last sample before
    # Redis came back, less the count at the first sample 300 ms (requests
    # already on the wire) after it went down.
    first = next(i for i, x in enumerate(t) if x >= down + 0.3)
    last = max(i for i, x in enumerate(t) if x <= up)
    out["sent_while_down"] = n[last] - n[first] if last >= first else 0
    out["samples_while_down"] = max(0, last - first + 1)
    base = n[last]
    resumed = next((x for x, c in zip(t, n) if x > up and c > base), None)
    out["resumed_after"] = None if resumed is None else round(resumed - up, 2)

print(f"processes: {a.processes}, quota {a.rate:.0f} emails/s")
if "aggregate_per_second" in out:
    print(f"aggregate over [{lo:.0f} s, {hi:.0f} s]: {out['aggregate_per_second']:.0f} emails/s "
          f"= {100 * out['aggregate_share']:.1f} % of the quota (goal 95-105 %)")
print(f"worst one-second window: {out['worst_second']:.0f} emails/s "
      f"= {100 * out['worst_second_share']:.1f} % at {out['worst_second_at']} s (goal <= 110 %)")
if "sent_while_down" in out:
    print(f"redis down {out['redis_down_for']} s at {out['redis_down_at']} s: "
          f"{out['sent_while_down']} emails reached the emulator while it was down (goal 0); "
          f"sending resumed {out['resumed_after']} s after its return (goal < 2 s)")
if a.json:
    with open(a.json, "w") as f:
        json.dump(out, f, indent=1)
