"""The Kubernetes topology as processes on this machine.

Two bundled ModelServers stand for two TF Serving replicas behind the headless
Service; one gateway with two workers gets both as one multi-address gRPC
target (``ipv4:a,b``, what the ``dns:///`` target resolves to), and a load
generator sends requests over fresh connections, so SO_REUSEPORT spreads them
over both workers.

How traffic per replica is observed without changing the servers: each replica
also serves the stateful ``saved_model_counter`` test model, and the
load increments it through the gateway (``incr_counter_by``). Afterwards each
replica is asked directly (gRPC, ``get_counter``) how often it was called: both
counts are well above zero and they add up to exactly the number of requests,
so every call was served once, by one of the two. The gateway workers'
sockets (``/proc``) show each worker connected to both replicas.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.manifests import REPO, parse_models_config
from tests.gateway_proc import running_gateway
from tests.http import Reply, post
from tests.modelserver.requests import predict_request
from tests.servers import call, start_modelserver, stop_modelserver

pytestmark = pytest.mark.slow

MODELS = ("half_plus_two", "saved_model_counter")
THREADS = 4
TCP_ESTABLISHED = "01"
# 127.0.0.1 as /proc/net/tcp and tcp6 print it (v4-mapped in tcp6).
LOOPBACK_HEX = {"0100007F", "0000000000000000FFFF00000100007F"}


@dataclass
class Topology:
    replicas: list[tuple[subprocess.Popen[str], str]]
    gateway: subprocess.Popen[bytes]
    base_url: str


def write_config(path: Path, tfs_models: Path) -> Path:
    demo = REPO / "demo" / "models" / "half_plus_two"
    counter = tfs_models / "saved_model_counter"
    text = "model_config_list {\n"
    for name, base in zip(MODELS, (demo, counter), strict=True):
        text += f'  config {{ name: "{name}" base_path: "{base}" model_platform: "tensorflow" }}\n'
    path.write_text(text + "}\n", encoding="utf-8")
    assert set(m.name for m in parse_models_config(path.read_text()).model_config_list.config) == {
        *MODELS
    }
    return path


@pytest.fixture(scope="module")
def topology(tfs_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    config = write_config(tmp_path_factory.mktemp("topology") / "models.config", tfs_models)
    args = ["--model_config_file", str(config)]
    replicas = []
    try:
        for _ in range(2):
            replicas.append(start_modelserver(args, wait_models=MODELS))
        target = "ipv4:" + ",".join(address for _, address in replicas)
        with running_gateway("--workers=2", f"--model-server={target}") as (proc, base_url):
            yield Topology(replicas, proc, base_url)
    finally:
        for proc, _ in replicas:
            stop_modelserver(proc)


def load(base_url: str, n: int, path: str, body: Callable[[int], dict[str, object]]) -> list[Reply]:
    """n POSTs over THREADS threads, one new connection each."""
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(lambda i: post(base_url, path, body(i), timeout=30), range(n)))


def counter(address: str) -> int:
    """A replica's counter, read straight from it (not through the gateway)."""
    request = predict_request("saved_model_counter", {}, signature="get_counter")
    return round(call(address, "Predict", request).outputs["output"].float_val[0])


def increment(base_url: str, n: int) -> list[Reply]:
    body = {"signature_name": "incr_counter_by", "inputs": {"delta": 1.0}}
    return load(base_url, n, "/v1/models/saved_model_counter:predict", lambda _: body)


def test_load_through_two_workers_is_answered(topology: Topology) -> None:
    started = time.monotonic()
    replies = load(
        topology.base_url,
        200,
        "/v1/models/half_plus_two:predict",
        lambda i: {"instances": [float(i)]},
    )
    elapsed = time.monotonic() - started
    assert [r.status for r in replies] == [200] * 200
    assert [r.json()["predictions"] for r in replies] == [[0.5 * i + 2] for i in range(200)]
    print(f"200 predicts in {elapsed:.2f} s")


def test_traffic_reaches_both_replicas(topology: Topology) -> None:
    (_, first), (_, second) = topology.replicas
    before = counter(first), counter(second)
    replies = increment(topology.base_url, 200)
    assert [r.status for r in replies] == [200] * 200
    served = counter(first) - before[0], counter(second) - before[1]
    print(f"replica calls: {served}")
    assert sum(served) == 200  # each request served once, by one of them
    assert min(served) >= 40, served  # round robin, not one replica taking it all


def _children(pid: int) -> list[int]:
    """The gateway's workers: its children (forked, so they share its command line)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cmdline = (stat.parent / "cmdline").read_bytes() if fields[1] == str(pid) else b""
        if b"gateway.cli\x00serve" in cmdline:
            out.append(int(stat.parent.name))
    return out


def _peer_ports(pid: int) -> set[int]:
    """Ports on 127.0.0.1 this process holds established TCP connections to."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = fd.readlink().as_posix()
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[len("socket:[") : -1])
    ports = set()
    for table in ("tcp", "tcp6"):  # gRPC dials IPv4 on dual-stack sockets (v4-mapped)
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            remote, state, inode = cols[2], cols[3], cols[9]
            host, port = remote.split(":")
            if inode in inodes and state == TCP_ESTABLISHED and host in LOOPBACK_HEX:
                ports.add(int(port, 16))
    return ports


def test_each_gateway_worker_holds_a_channel_to_both_replicas(topology: Topology) -> None:
    increment(topology.base_url, 40)  # every worker has called by now
    workers = _children(topology.gateway.pid)
    assert len(workers) == 2, workers
    replica_ports = {int(address.rsplit(":", 1)[1]) for _, address in topology.replicas}
    for worker in workers:
        assert replica_ports <= _peer_ports(worker), worker


def test_one_replica_gone_the_other_takes_everything(topology: Topology) -> None:
    # Runs last in this module: it stops the first replica.
    (first_proc, _), (_, second) = topology.replicas
    stop_modelserver(first_proc)
    before = counter(second)
    replies = increment(topology.base_url, 60)
    assert [r.status for r in replies] == [200] * 60
    assert counter(second) - before == 60
