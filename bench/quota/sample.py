#!/usr/bin/env python3
"""bench/quota/sample.py: samples the emulator's /stats `emails` counter
every --interval seconds into --out (wall time, count) until --until; with
--outage S@T stops Redis (SIGTERM to the pid in --redis-pid-file, waits for
it to exit) T seconds after --start and starts it again S seconds later
with --redis-cmd, writing the new pid to the same file. Prints the down and
up times (wall clock, empty without an outage) on one line on stdout."""
import argparse
import json
import os
import shlex
import signal
import subprocess
import time
import urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--stats", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--start", type=float, required=True)
ap.add_argument("--until", type=float, required=True)
ap.add_argument("--interval", type=float, default=0.1)
ap.add_argument("--outage")
ap.add_argument("--redis-pid-file")
ap.add_argument("--redis-cmd")
ap.add_argument("--redis-socket")
a = ap.parse_args()

down_at = down_for = None
if a.outage:
    s, t = a.outage.split("@")
    down_for, down_at = float(s), float(t)
down = up = None
with open(a.out, "w") as out:
    while True:
        now = time.time()
        try:
            with urllib.request.urlopen(a.stats, timeout=1) as r:
                n = json.load(r)["emails"]
            out.write(f"{now}\t{n}\n")
            out.flush()
        except OSError:
            pass
        if down_at is not None and down is None and now - a.start >= down_at:
            pid = int(open(a.redis_pid_file).read())
            os.kill(pid, signal.SIGTERM)
            while True:  # not our child: poll until it is gone
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.005)
            down = time.time()
        if down is not None and up is None and time.time() - down >= down_for:
            if os.path.exists(a.redis_socket):
                os.unlink(a.redis_socket)
            p = subprocess.Popen(shlex.split(a.redis_cmd))
            open(a.redis_pid_file, "w").write(f"{p.pid}\n")
            while not os.path.exists(a.redis_socket):
                time.sleep(0.005)
            up = time.time()
        if now >= a.until:
            break
        time.sleep(max(0.0, a.interval - (time.time() - now)))
print(f"{down or ''} {up or ''}")
