"""deploy/k8s: every manifest parses, and what it says agrees with mmsim's own configuration.

Kinds, replicas (> 1 for every service: they are stateless), gRPC readiness and liveness probes on the service
port, ports equal to the defaults of services/runtime/config.py, env from the ConfigMap, Redis as a StatefulSet
with a volume and the append-only file. When kubectl is on PATH, `kubectl kustomize` must render the base and
every overlay too.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mmsim.runtime import config

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
BASE = K8S / "base"
DEFAULTS = config.Settings()
PORTS = {name: int(addr.rsplit(":", 1)[1]) for name, addr in DEFAULTS.addrs.items()}


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


@pytest.fixture(scope="module")
def objects() -> dict[tuple[str, str], dict]:
    kust = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    assert kust["kind"] == "Kustomization"
    out = {}
    for res in kust["resources"]:
        for doc in _docs(BASE / res):
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in out, f"duplicate {key}"
            out[key] = doc
    return out


def test_every_yaml_file_parses():
    files = sorted(K8S.rglob("*.yaml"))
    assert len(files) >= 8
    for f in files:
        docs = _docs(f)
        assert docs, f"{f} is empty"
        for d in docs:
            assert "apiVersion" in d and "kind" in d, f"{f}: {d!r:.200}"


def test_base_lists_every_file_and_has_the_expected_objects(objects):
    listed = set(yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    expected = {("ConfigMap", "mmsim-config"), ("StatefulSet", "redis"), ("Service", "redis")}
    for name in config.SERVICES:
        expected |= {("Deployment", name), ("Service", name)}
    assert set(objects) == expected


@pytest.mark.parametrize("name", config.SERVICES)
def test_service_deployment(objects, name):
    dep = objects[("Deployment", name)]
    spec = dep["spec"]
    assert spec["replicas"] == 2
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    (c,) = spec["template"]["spec"]["containers"]
    assert c["command"] == ["python3", "-m", f"mmsim.{name}.server"]
    port = PORTS[name]
    assert [p["containerPort"] for p in c["ports"]] == [port]
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["grpc"]["port"] == port, (name, probe)
    assert {"configMapRef": {"name": "mmsim-config"}} in c["envFrom"]
    assert {"name": "MMSIM_SERVICE", "value": name} in c["env"]
    svc = objects[("Service", name)]
    assert svc["spec"]["selector"].items() <= labels.items()
    assert [(p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [(port, "grpc")]


def test_configmap_matches_the_settings(objects):
    data = objects[("ConfigMap", "mmsim-config")]["data"]
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values must be strings"
    known = set(DEFAULTS.env()) | {"MMSIM_SERVICE", "OTEL_EXPORTER_OTLP_ENDPOINT"}
    assert set(data) <= known, set(data) - known
    for name in config.SERVICES:
        assert data[f"MMSIM_{name.upper()}_ADDR"] == f"{name}:{PORTS[name]}"
    assert data["MMSIM_HOST"] == "0.0.0.0"
    assert data["MMSIM_REDIS_URL"] == "redis://redis:6379/0"
    settings = config.load(dict(data))  # the whole map is accepted by the one place that reads settings
    assert settings.redis_url == "redis://redis:6379/0"


def test_redis_statefulset(objects):
    sts = objects[("StatefulSet", "redis")]
    assert sts["spec"]["serviceName"] == "redis"
    (c,) = sts["spec"]["template"]["spec"]["containers"]
    args = c["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--dir") + 1] == "/data"
    assert {"name": "data", "mountPath": "/data"} in c["volumeMounts"]
    assert [t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]] == ["data"]
    assert objects[("Service", "redis")]["spec"]["ports"][0]["port"] == 6379


def test_external_redis_overlay():
    kust = yaml.safe_load((K8S / "overlays" / "external-redis" / "kustomization.yaml").read_text())
    assert kust["resources"] == ["../../base"]
    targets = {(p["target"]["kind"], p["target"]["name"]) for p in kust["patches"]}
    assert targets == {("StatefulSet", "redis"), ("Service", "redis"), ("ConfigMap", "mmsim-config")}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH")
@pytest.mark.parametrize("target, redis", [("base", True), ("overlays/external-redis", False)])
def test_kubectl_kustomize_renders(target, redis):
    out = subprocess.run(["kubectl", "kustomize", str(K8S / target)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    kinds = [(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(out.stdout) if d]
    assert (("StatefulSet", "redis") in kinds) is redis
    assert sum(k == "Deployment" for k, _ in kinds) == 4
    for d in yaml.safe_load_all(out.stdout):
        if d and d["kind"] == "Deployment":
            assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "mmsim:local"
