"""Every way mmsim runs Redis (embedded, docker-compose, its image, k8s) runs it durable: the same
append-only settings as services/runtime/redis_server.py DURABLE_ARGS (appendfsync always)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from mmsim.runtime.redis_server import DURABLE_ARGS, redis_args

ROOT = Path(__file__).resolve().parents[2]


def _contains(args: list[str], part: tuple[str, ...]) -> bool:
    return any(tuple(args[i : i + len(part)]) == part for i in range(len(args)))


def test_durable_args_say_appendfsync_always():
    assert _contains(list(DURABLE_ARGS), ("--appendonly", "yes"))
    assert _contains(list(DURABLE_ARGS), ("--appendfsync", "always"))


def test_embedded_redis_is_durable(tmp_path):
    args = redis_args(6399, "127.0.0.1", tmp_path)
    assert _contains(args, DURABLE_ARGS)
    assert args[args.index("--dir") + 1] == str(tmp_path.resolve())


def test_compose_redis_is_durable():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert _contains(compose["services"]["redis"]["command"], DURABLE_ARGS)


def test_redis_image_is_durable():
    text = (ROOT / "deploy" / "redis.Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*?\])\s*$", text.replace("\\\n", ""), re.MULTILINE | re.DOTALL)
    assert cmd, "no CMD in deploy/redis.Dockerfile"
    assert _contains(json.loads(cmd.group(1)), DURABLE_ARGS)


def test_k8s_redis_is_durable():
    docs = list(yaml.safe_load_all((ROOT / "deploy" / "k8s" / "base" / "redis.yaml").read_text()))
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    assert _contains(container["args"], DURABLE_ARGS)
