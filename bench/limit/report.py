#!/usr/bin/env python3
"""The table and JSON object of bench/limit/run.sh.

Reads what run.sh left in RUNS/<name>/ for each run (meta.json, stdout,
stderr, rc, cpu = "user sys" CPU seconds of the process, wall = its start
and end as two epoch seconds, net_ticks for `salvo send`, sink.log = the
nginx access-log lines of that run), prints one
table on stdout, then one JSON object on one line (also written to
--json-file). Exit status 1 when a run failed or a check did not hold.
"""
import argparse
import json
import os
import re
import sys


def read(path, default=""):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return default


def cpu_pair(path):
    parts = read(path).split()
    return (float(parts[0]), float(parts[1])) if len(parts) >= 2 else (0.0, 0.0)


def sink_stats(path):
    """Requests nginx logged, their statuses, the bodies they announced
    (Content-Length: nginx read and discarded that many bytes before it could
    parse the connection's next request), and the most requests one
    kept-alive connection carried."""
    n, statuses, content, most = 0, {}, 0, 0
    for line in read(path).splitlines():
        f = line.split()
        if len(f) < 4:
            continue
        n += 1
        statuses[f[0]] = statuses.get(f[0], 0) + 1
        content += int(f[2]) if f[2].isdigit() else 0
        most = max(most, int(f[3]) if f[3].isdigit() else 0)
    return {
        "requests": n,
        "statuses": statuses,
        "body_bytes": content,
        "mean_content_length": round(content / n) if n else 0,
        "max_requests_per_connection": most,
    }


def parse_wrk(out, r):
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", out)
    if not m:
        raise ValueError("no 'N requests in T' line in wrk's output")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[m.group(3)]
    r["requests"] = int(m.group(1))
    r["seconds"] = float(m.group(2)) * scale
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["not_ok"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["errors"] = sum(int(x) for x in m.groups()) if m else 0


def parse_bare(out, r):
    line = next((l for l in out.splitlines() if l.startswith("{")), None)
    if line is None:
        raise ValueError("no JSON line in the bare client's output")
    j = json.loads(line)
    r["requests"] = j["requests"]
    r["seconds"] = j["seconds"]
    r["not_ok"] = j["non_200"] + j.get("short_uploads", 0)
    r["errors"] = j["errors"]
    r["bytes_out"] = j["body_bytes_out"]
    # Its own getrusage: the same as the process CPU, without the exec.
    r["net_cpu"] = j["cpu_user_s"] + j["cpu_sys_s"]


def parse_bench(out, r):
    line = next((l for l in out.splitlines() if l.startswith("{")), None)
    if line is None:
        raise ValueError("no JSON object in salvo bench's output")
    j = json.loads(line)
    r["requests"] = j["requests"]
    r["seconds"] = j["seconds"]
    r["rows"] = j["accepted"]
    r["not_ok"] = j["not_accepted"]
    r["errors"] = j["retries"]
    r["bytes_out"] = j["bytes_out"]
    r["status"] = j["status"]
    r["process_cpu"] = j["cpu_user_seconds"] + j["cpu_sys_seconds"]
    net = [s for s in j.get("cpu_split", []) if "salvo-net" in s["role"]]
    if net:
        r["net_cpu"] = net[0]["user"] + net[0]["sys"]
    r["cpu_split"] = j.get("cpu_split", [])


def parse_send(run_dir, r):
    text = read(os.path.join(run_dir, "report.json"))
    if not text:
        raise ValueError("salvo send wrote no --report")
    j = json.loads(text)
    r["requests"] = j["requests"]
    r["seconds"] = j["seconds"]
    r["rows"] = j.get("accepted", 0)
    r["not_ok"] = j["rows_read"] - r["rows"]
    r["errors"] = j["retries"]
    r["bytes_out"] = j["bytes_out"]
    r["status"] = j["status"]
    ticks = read(os.path.join(run_dir, "net_ticks")).split()
    if len(ticks) == 2:
        hz = os.sysconf("SC_CLK_TCK")
        r["net_cpu"] = (int(ticks[0]) + int(ticks[1])) / hz


def fmt_int(x):
    return f"{x:,.0f}".replace(",", " ") if x is not None else ""


def fmt_ratio(x):
    return f"{x:.2f}" if x is not None else ""


def collect(runs_dir, order, problems, tag=""):
    """The results of one round: RUNS_DIR/<name>/ for each name in ORDER,
    checked (what does not hold goes to PROBLEMS, prefixed with TAG) and
    with their ratios to the references of the same round."""
    results = []
    for name in order:
        d = os.path.join(runs_dir, name)
        meta = json.loads(read(os.path.join(d, "meta.json"), "{}") or "{}")
        if not meta:
            continue
        r = {"name": name, "label": meta["label"], "kind": meta["kind"], "merge": meta["merge"]}
        r["exit_status"] = int(read(os.path.join(d, "rc"), "0").strip() or 0)
        user, sys_ = cpu_pair(os.path.join(d, "cpu"))
        r["process_cpu"] = user + sys_
        out = read(os.path.join(d, "stdout"))
        try:
            if r["kind"] == "wrk":
                parse_wrk(out, r)
                r["net_cpu"] = r["process_cpu"]
            elif r["kind"] == "bare":
                parse_bare(out, r)
            elif r["kind"] == "bench":
                parse_bench(out, r)
            elif r["kind"] == "send":
                parse_send(d, r)
        except (ValueError, KeyError, json.JSONDecodeError) as e:
            problems.append(f"{tag}{name}: cannot read its results ({e}); stderr: "
                            + read(os.path.join(d, "stderr")).strip()[-300:])
            continue
        secs = r["seconds"] or 1e-9
        req = r["requests"]
        r["requests_per_second"] = req / secs
        if r["kind"] in ("wrk", "bare"):
            r["rows"] = req * meta["rows_per_request"]
            r.setdefault("bytes_out", req * meta["body_bytes"])
        r["rows_per_second"] = r["rows"] / secs
        wall = read(os.path.join(d, "wall")).split()
        if r["kind"] == "send" and len(wall) == 2:
            # From exec to exit: what `time salvo send` shows a user.
            r["wall_seconds"] = float(wall[1]) - float(wall[0])
            r["wall_rows_per_second"] = r["rows"] / r["wall_seconds"] if r["wall_seconds"] > 0 else None
        r["body_mb_per_second"] = r["bytes_out"] / secs / 1e6
        r["mean_body_bytes"] = round(r["bytes_out"] / req) if req else 0
        r["net_cpu_us_per_request"] = r["net_cpu"] * 1e6 / req if req and "net_cpu" in r else None
        r["process_cpu_us_per_request"] = r["process_cpu"] * 1e6 / req if req else None
        r["sink"] = sink_stats(os.path.join(d, "sink.log"))
        ticks = read(os.path.join(d, "sink_ticks")).split()
        if len(ticks) == 2:
            cpu = (int(ticks[1]) - int(ticks[0])) / os.sysconf("SC_CLK_TCK")
            r["sink"]["cpu_seconds"] = cpu
            r["sink"]["cpu_cores_busy"] = cpu / secs

        if r["exit_status"] != 0:
            problems.append(f"{tag}{name}: exit status {r['exit_status']}")
        if r.get("not_ok"):
            problems.append(f"{tag}{name}: {r['not_ok']} request(s) or row(s) not answered 200/accepted")
        if r["kind"] in ("bench", "send") and r.get("status") != "finished":
            problems.append(f"{tag}{name}: job status {r.get('status')}")
        bad = {k: v for k, v in r["sink"]["statuses"].items() if k != "200"}
        if bad:
            problems.append(f"{tag}{name}: the sink answered {bad}")
        # wrk and the bare client count only the requests that completed in
        # time; the sink may log a few more that were in flight at the end.
        slack = max(64, req // 1000)
        if abs(r["sink"]["requests"] - req) > slack:
            problems.append(f"{tag}{name}: the sink logged {r['sink']['requests']} requests, "
                            f"the client counted {req}")
        if req and abs(r["sink"]["body_bytes"] - r["bytes_out"]) > slack * r["mean_body_bytes"]:
            problems.append(f"{tag}{name}: the sink read {r['sink']['body_bytes']} B of bodies, "
                            f"the client sent {r['bytes_out']}")
        results.append(r)

    # The references of each mode: wrk and the bare client posting a request
    # of that mode (run.sh: wrk/bare local, wrk-server/bare-server).
    by_name = {r["name"]: r for r in results}
    refs = {"local": (by_name.get("bare"), by_name.get("wrk")),
            "server": (by_name.get("bare-server"), by_name.get("wrk-server"))}
    for r in results:
        bare, wrk = refs[r["merge"]]
        # Local mode: the same request as the references, so requests/s (and
        # CPU per request) compare like with like. Server mode: salvo's
        # requests (10 merge messages of 50 rows) are not the reference's
        # (one of 500): compare request bytes per second and CPU per byte.
        local = r["merge"] == "local"
        key = "requests_per_second" if local else "body_mb_per_second"
        r["ratio_basis"] = key
        r["ratio_to_bare"] = r[key] / bare[key] if bare and bare[key] else None
        r["ratio_to_wrk"] = r[key] / wrk[key] if wrk and wrk[key] else None

        def cpu_cost(x):
            c = x and x.get("net_cpu_us_per_request")
            return (c if local else c / x["mean_body_bytes"]) if c and x["mean_body_bytes"] else None

        mine, theirs = cpu_cost(r), cpu_cost(bare)
        r["net_cpu_ratio_to_bare"] = mine / theirs if mine and theirs else None
    return results


# The figures a run's summary over several rounds gives as medians.
MEDIAN_FIELDS = ["requests_per_second", "rows_per_second", "wall_rows_per_second",
                 "body_mb_per_second",
                 "mean_body_bytes", "net_cpu_us_per_request", "process_cpu_us_per_request",
                 "ratio_to_bare", "ratio_to_wrk", "net_cpu_ratio_to_bare"]


def median(values):
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def summarize(rounds):
    """One result a run: its first round's, with MEDIAN_FIELDS replaced by
    their medians over the rounds and every round's in "rounds"."""
    by_name = {}
    for results in rounds:
        for r in results:
            by_name.setdefault(r["name"], []).append(r)
    summary = []
    for name, rs in by_name.items():
        s = dict(rs[0])
        for k in MEDIAN_FIELDS:
            s[k] = median(r.get(k) for r in rs)
        s["rounds"] = [{k: r.get(k) for k in ["exit_status", "requests", "seconds"] + MEDIAN_FIELDS}
                       for r in rs]
        summary.append(s)
    return summary


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--order", required=True)
    ap.add_argument("--context", required=True)
    ap.add_argument("--json-file")
    a = ap.parse_args()
    context = json.loads(a.context)
    order = [n for n in a.order.split(",") if n]

    problems = []
    per_round = [collect(os.path.join(a.runs, str(k)), order, problems,
                         f"round {k}, " if a.rounds > 1 else "")
                 for k in range(1, a.rounds + 1)]
    results = per_round[0] if a.rounds == 1 else summarize(per_round)

    head = ["client", "requests/s", "emails or rows/s", "MB/s", "body B",
            "net CPU µs/req", "all CPU µs/req", "× bare", "× wrk", "net CPU × bare"]
    rows = []
    for r in results:
        unit = "rows" if r["merge"] == "server" else "emails"
        rows.append([
            r["label"], fmt_int(r["requests_per_second"]),
            f"{fmt_int(r['rows_per_second'])} {unit}", f"{r['body_mb_per_second']:.0f}",
            fmt_int(r["mean_body_bytes"]),
            f"{r['net_cpu_us_per_request']:.1f}" if r["net_cpu_us_per_request"] else "",
            f"{r['process_cpu_us_per_request']:.1f}" if r["process_cpu_us_per_request"] else "",
            fmt_ratio(r["ratio_to_bare"]), fmt_ratio(r["ratio_to_wrk"]),
            fmt_ratio(r["net_cpu_ratio_to_bare"]),
        ])
    widths = [max(len(h), *(len(x[i]) for x in rows)) if rows else len(h)
              for i, h in enumerate(head)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for x in rows:
        print("| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                for i, (c, w) in enumerate(zip(x, widths))) + " |")
    print()
    print(f"{context['nproc']} cores, load average {context['loadavg_start']} before, "
          f"{context['loadavg_end']} after; {context['connections']} connections "
          f"(salvo: max_in_flight); nginx with {context['nginx_workers']} worker(s); "
          f"the send runs' journal and results on {context['ledger_fs']}.")
    print("MB/s: request bodies. net CPU: the transport's CPU (wrk and the bare client: the "
          "whole process; salvo: its salvo-net thread); all CPU: the whole client process.")
    print("× bare, × wrk: over the reference of the same mode. Local mode: requests/s, the "
          "same 10-message request. Server mode: body MB/s (salvo's requests are 10 merge "
          "messages of 50 rows, the reference's one of 500); its net CPU × bare is per byte.")
    if a.rounds > 1:
        print(f"The table gives each figure's median over {a.rounds} rounds; every round's, "
              "in the order they ran:")
        for r in results:
            unit = "rows" if r["merge"] == "server" else "emails"
            each = lambda k, f: " / ".join(f(x[k]) for x in r["rounds"])  # noqa: E731
            line = f"  {r['name']}: {unit}/s {each('rows_per_second', fmt_int)}"
            if any(x.get("wall_rows_per_second") is not None for x in r["rounds"]):
                line += f"; exec to exit {each('wall_rows_per_second', fmt_int)}"
            if any(x["ratio_to_bare"] is not None for x in r["rounds"]):
                line += f"; × bare {each('ratio_to_bare', fmt_ratio)}"
            if any(x["net_cpu_ratio_to_bare"] is not None for x in r["rounds"]):
                line += f"; net CPU × bare {each('net_cpu_ratio_to_bare', fmt_ratio)}"
            print(line)
    if a.rounds == 1:
        for r in results:
            if r.get("wall_rows_per_second") is not None:
                unit = "rows" if r["merge"] == "server" else "emails"
                print(f"  {r['name']}: {fmt_int(r['wall_rows_per_second'])} {unit}/s from exec "
                      f"to exit ({r['wall_seconds']:.2f} s, the run {r['seconds']:.2f} s)")
    for k, round_results in enumerate(per_round, 1):
        where = f" (round {k})" if a.rounds > 1 else ""
        for r in round_results:
            s = r["sink"]
            busy = (f", {s['cpu_cores_busy']:.2f} cores busy" if "cpu_cores_busy" in s else "")
            print(f"  the sink, {r['name']}{where}: {s['requests']} requests, "
                  f"{s['body_bytes'] / 1e6:.0f} MB of bodies read and discarded "
                  f"(mean {s['mean_content_length']} B), up to "
                  f"{s['max_requests_per_connection']} requests on one kept-alive "
                  f"connection{busy}")
    for p in problems:
        print(f"PROBLEM: {p}")

    doc = {"context": context, "runs": results, "problems": problems}
    line = json.dumps(doc, separators=(",", ":"))
    print(line)
    if a.json_file:
        with open(a.json_file, "w", encoding="utf-8") as f:
            f.write(json.dumps(doc, indent=1) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
