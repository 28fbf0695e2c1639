#!/usr/bin/env python3
"""Reads samples/k8s/ the way Kubernetes would (PyYAML, Debian's
python3-yaml), checks that its parts fit together, and writes what a local
run of the Indexed Job needs into OUT_DIR:

  job/<file>     each file of the campaign ConfigMap (mounted at /job)
  command        the Job's container command, one argument per line
  mounts         "MOUNT_PATH KIND NAME" per volume mount (configMap / pvc)
  env            "NAME SECRET KEY" per variable taken from a Secret
  completions    N

usage: k8s_manifests.py SAMPLE_DIR OUT_DIR
Exits 1 with a message naming the file and field on any mismatch."""
import json
import os
import sys

import yaml


def fail(msg):
    print(f"k8s_manifests: {msg}", file=sys.stderr)
    sys.exit(1)


def load(sample, name):
    path = os.path.join(sample, name)
    try:
        with open(path, encoding="utf-8") as f:
            return [d for d in yaml.safe_load_all(f) if d]
    except (OSError, yaml.YAMLError) as e:
        fail(f"{path}: {e}")


def one(docs, kind, name=None):
    for d in docs:
        if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name):
            return d
    fail(f"no {kind} {name or ''} in the manifests")


def main():
    sample, out = sys.argv[1], sys.argv[2]
    docs = []
    for name in sorted(os.listdir(sample)):
        if name.endswith(".yaml"):
            docs += load(sample, name)

    job = one(docs, "Job")
    spec = job["spec"]
    if spec.get("completionMode") != "Indexed":
        fail("job.yaml: spec.completionMode must be Indexed (Kubernetes then sets JOB_COMPLETION_INDEX)")
    n = spec.get("completions")
    if not isinstance(n, int) or n < 1:
        fail("job.yaml: spec.completions must be a number of shards")
    if spec.get("parallelism") != n:
        fail(f"job.yaml: spec.parallelism {spec.get('parallelism')} != completions {n}")
    if not isinstance(spec.get("backoffLimitPerIndex"), int):
        fail("job.yaml: spec.backoffLimitPerIndex is missing: a failed index must be retried alone")
    pod = spec["template"]["spec"]
    if pod.get("restartPolicy") != "Never":
        fail("job.yaml: restartPolicy must be Never (podFailurePolicy needs it)")
    (container,) = pod["containers"]
    command = container["command"]
    if command[:2] != ["salvo", "send"]:
        fail(f"job.yaml: the command is not salvo send: {command}")
    if "--shard-count" not in command or command[command.index("--shard-count") + 1] != str(n):
        fail(f"job.yaml: the command must say --shard-count {n} (= completions): {command}")

    secrets = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "Secret"}
    env = []
    for e in container.get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if not ref:
            continue
        s = secrets.get(ref["name"])
        if s is None or ref["key"] not in s.get("stringData", s.get("data", {})):
            fail(f"job.yaml: env {e['name']} names secret {ref['name']} key {ref['key']}, which secret.yaml lacks")
        env.append(f"{e['name']} {ref['name']} {ref['key']}")
    if not any(line.startswith("SOCKETLABS_API_KEY ") for line in env):
        fail("job.yaml: SOCKETLABS_API_KEY must come from a Secret (secretKeyRef)")

    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = []
    config_map = None
    for m in container["volumeMounts"]:
        v = volumes.get(m["name"])
        if v is None:
            fail(f"job.yaml: volumeMount {m['name']} has no volume")
        if "configMap" in v:
            config_map = one(docs, "ConfigMap", v["configMap"]["name"])
            mounts.append(f"{m['mountPath']} configMap {v['configMap']['name']}")
        elif "persistentVolumeClaim" in v:
            one(docs, "PersistentVolumeClaim", v["persistentVolumeClaim"]["claimName"])
            mounts.append(f"{m['mountPath']} pvc {v['persistentVolumeClaim']['claimName']}")
        else:
            fail(f"job.yaml: volume {m['name']} is neither a ConfigMap nor a claim")
    if config_map is None:
        fail("job.yaml: no ConfigMap mounted for the job file")

    data = config_map["data"]
    try:
        job_file = json.loads(data["job.json"])
    except (KeyError, ValueError) as e:
        fail(f"configmap.yaml: job.json: {e}")
    # The quota's Redis is the sample's Service.
    shared = job_file.get("rate", {}).get("shared")
    if shared:
        redis = one(docs, "Service", "salvo-redis")
        port = redis["spec"]["ports"][0]["port"]
        if shared.get("redis") != f"redis://salvo-redis:{port}/0":
            fail(f"configmap.yaml: rate.shared.redis {shared.get('redis')} is not the salvo-redis Service")
        one(docs, "Deployment", "salvo-redis")
    # salvo listen: 2 replicas on the sample's PostgreSQL.
    listen = one(docs, "Deployment", "salvo-listen")
    if listen["spec"]["replicas"] < 2:
        fail("listen.yaml: salvo-listen needs at least 2 replicas")
    lcmd = listen["spec"]["template"]["spec"]["containers"][0]["command"]
    db = lcmd[lcmd.index("--db") + 1]
    if not db.startswith("postgresql://") or "@salvo-postgres:5432/" not in db:
        fail(f"listen.yaml: --db {db} is not the salvo-postgres Service")
    one(docs, "Service", "salvo-postgres")

    with open(os.path.join(sample, "Dockerfile"), encoding="utf-8") as f:
        dockerfile = f.read()
    for needed in ("FROM debian:bookworm-slim", "./setup.sh build", "cmake --install"):
        if needed not in dockerfile:
            fail(f"Dockerfile: no '{needed}'")

    os.makedirs(os.path.join(out, "job"), exist_ok=True)
    for name, text in data.items():
        with open(os.path.join(out, "job", name), "w", encoding="utf-8") as f:
            f.write(text)
    with open(os.path.join(out, "command"), "w", encoding="utf-8") as f:
        f.write("\n".join(command) + "\n")
    with open(os.path.join(out, "mounts"), "w", encoding="utf-8") as f:
        f.write("\n".join(mounts) + "\n")
    with open(os.path.join(out, "env"), "w", encoding="utf-8") as f:
        f.write("\n".join(env) + "\n")
    with open(os.path.join(out, "completions"), "w", encoding="utf-8") as f:
        f.write(f"{n}\n")


if __name__ == "__main__":
    main()
