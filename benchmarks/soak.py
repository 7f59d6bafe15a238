"""Soak with chaos: ``scripts/soak --minutes N`` (a command, not a test).

A gateway with 2 workers in front of the bundled ModelServer serving the demo
models (``half_plus_two``, ``mnist``; deployments ``hp2`` and ``mnist``) takes
mixed traffic from 32 concurrent clients: every endpoint in both URL forms
(predict row and columnar, classify, regress, status, metadata, ``/v1/models``,
``/readyz``, ``/metrics``, ``/healthz``) and about 10 % malformed requests. A
chaos loop SIGKILLs the ModelServer every 30-60 s and restarts it on the same
port. Every 5 s the gateway's processes and the ModelServer are sampled (RSS,
open descriptors, threads).

Writes ``soak.json`` (per minute: requests by status, p50/p99 latency, each
process's RSS, descriptors and threads; the ModelServer's down windows; the
rules and whether they passed) and ``soak.png`` into the results folder
(``benchmarks/results/soak-<time>/`` unless ``--out``). The exit status is 1
when a rule failed; the rules are in ``benchmarks.soak_report``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
import orjson
import psutil

from benchmarks import machine, procs, soak_report

REPO = procs.REPO
DEMO = REPO / "demo"
DEPLOYMENTS = {"hp2": "half_plus_two", "mnist": "mnist"}
SAMPLE_EVERY_S = 5.0
READY_POLL_S = 0.25
REQUEST_TIMEOUT_S = 60.0


# --- the traffic ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spec:
    """One kind of request. ``expect``: the exact answer; None: the first 200 answer
    (checked by ``sane``) becomes the reference for all later ones; ``b""``: any 200."""

    name: str
    method: str
    path: str
    body: bytes = b""
    valid: bool = True
    expect: bytes | None = None
    weight: float = 10.0
    headers: tuple[tuple[str, str], ...] = ()


ANY = b""


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


def _deep(levels: int) -> bytes:
    return b'{"instances": ' + b"[" * levels + b"1" + b"]" * levels + b"}"


def traffic() -> list[Spec]:
    digits = (DEMO / "digits_sample.json").read_bytes()
    digits_classify = (DEMO / "digits_classify_sample.json").read_bytes()
    hp2 = "/v1/models/half_plus_two"
    valid = [
        Spec(
            "tfs predict row",
            "POST",
            f"{hp2}:predict",
            _json({"instances": [1.0, 2.0, 5.0]}),
            expect=b'{"predictions":[2.5,3.0,4.5]}',
            weight=30,
        ),
        Spec(
            "ps predict columnar",
            "POST",
            "/model-serving/hp2:predict",
            _json({"inputs": [1.0, 2.0]}),
            expect=b'{"outputs":[2.5,3.0]}',
            weight=30,
        ),
        Spec(
            "ps predict mnist row",
            "POST",
            "/model-serving/mnist/versions/1:predict",
            _json({"instances": orjson.loads(digits)["inputs"]}),
            weight=15,
        ),
        Spec(
            "tfs predict mnist columnar",
            "POST",
            "/v1/models/mnist:predict",
            digits,
            weight=10,
        ),
        Spec("tfs classify mnist", "POST", "/v1/models/mnist:classify", digits_classify, weight=10),
        Spec(
            "ps classify",
            "POST",
            "/model-serving/hp2:classify",
            _json({"signature_name": "classify_x_to_y", "examples": [{"x": 1.0}]}),
            weight=10,
        ),
        Spec(
            "tfs regress",
            "POST",
            f"{hp2}:regress",
            _json({"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}, {"x": 4.0}]}),
            expect=b'{"results":[3.0,4.0]}',
            weight=10,
        ),
        Spec(
            "ps regress versions",
            "POST",
            "/model-serving/hp2/versions/1:regress",
            _json({"signature_name": "regress_x_to_y", "context": {"x": 6.0}, "examples": [{}]}),
            expect=b'{"results":[5.0]}',
            weight=5,
        ),
        Spec("tfs status", "GET", hp2, weight=8),
        Spec("ps status", "GET", "/model-serving/mnist", weight=4),
        Spec("tfs metadata", "GET", "/v1/models/mnist/versions/1/metadata", weight=4),
        Spec("ps metadata", "GET", "/model-serving/hp2/metadata", weight=4),
        Spec("list models", "GET", "/v1/models", expect=ANY, weight=3),
        Spec("readyz", "GET", "/readyz", expect=b'{"ready":true,"reasons":[]}', weight=3),
        Spec("metrics", "GET", "/metrics", expect=ANY, weight=2),
        Spec("healthz", "GET", "/healthz", expect=b'{"status":"ok"}', weight=2),
    ]
    predict = f"{hp2}:predict"
    malformed = [
        Spec("truncated json", "POST", predict, b'{"instances": [1.0, 2.0'),
        Spec("string for float", "POST", predict, _json({"instances": ["a"]})),
        Spec("unknown model", "POST", "/v1/models/nope:predict", _json({"instances": [1.0]})),
        Spec("unknown verb", "POST", f"{hp2}:frobnicate", _json({"instances": [1.0]})),
        Spec("unknown deployment", "GET", "/model-serving/no-such-deployment"),
        Spec("not an object", "POST", "/model-serving/hp2:predict", b"[1, 2]"),
        Spec(
            "object for float",
            "POST",
            "/v1/models/mnist:predict",
            _json({"instances": [{"b64": "!!"}]}),
        ),
        Spec(
            "garbage gzip",
            "POST",
            predict,
            b"\x1f\x8b\x08garbage",
            headers=(("Content-Encoding", "gzip"),),
        ),
        Spec(
            "gzip wrong dtype",
            "POST",
            predict,
            gzip.compress(b'{"instances": [true]}'),
            headers=(("Content-Encoding", "gzip"),),
        ),
        Spec("examples not a list", "POST", f"{hp2}:classify", _json({"examples": 5})),
        Spec("non-utf8 key", "POST", predict, b'{"instances": [{"\xff": 1}]}'),
        Spec("version past int64", "GET", f"{hp2}/versions/99999999999999999999"),
        Spec("deep nesting", "POST", predict, _deep(3000)),
        Spec(
            "missing signature",
            "POST",
            predict,
            _json({"signature_name": "nope", "instances": [1.0]}),
        ),
    ]
    # Valid weights add up to 150; 14 malformed kinds at 1.2 are about 10 % of the requests.
    return valid + [
        Spec(s.name, s.method, s.path, s.body, False, None, 1.2, s.headers) for s in malformed
    ]


# --- the processes -------------------------------------------------------------


@dataclass
class ModelServer:
    """The bundled ModelServer on a fixed port, killed and restarted by the chaos loop."""

    port: int
    config: Path
    log: IO[bytes]
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["modelserver", "--host=127.0.0.1", f"--port={self.port}"]
        args.append(f"--model_config_file={self.config}")
        self.proc = procs.python("gateway.cli", *args, stdout=self.log, stderr=self.log)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None:
            procs.stop(self.proc)


def models_config(folder: Path) -> Path:
    template = (DEMO / "models.config.in").read_text(encoding="utf-8")
    path = folder / "models.config"
    path.write_text(template.replace("${DEMO_MODELS}", str(DEMO / "models")), encoding="utf-8")
    return path


def start_gateway(port: int, target: str, workers: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    args = ["serve", "--host=127.0.0.1", f"--port={port}", f"--model-server={target}"]
    args += [f"--workers={workers}", "--access-log=false", "--log-level=WARNING"]
    args += [f"--deployment={d}={m}" for d, m in DEPLOYMENTS.items()]
    return procs.python("gateway.cli", *args, stdout=log, stderr=log)


# --- measuring -----------------------------------------------------------------


@dataclass
class Record:
    """Everything the run saw, in seconds since its start."""

    start: float = field(default_factory=time.monotonic)
    requests: list[tuple[float, float, int, int, bool]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[float, str]] = field(default_factory=list)
    golden: dict[int, bytes] = field(default_factory=dict)
    wrong: list[dict[str, Any]] = field(default_factory=list)

    def now(self) -> float:
        return time.monotonic() - self.start


def judge(record: Record, index: int, spec: Spec, status: int, body: bytes) -> bool:
    """Whether a valid request got the right answer (malformed ones: a 4xx)."""
    if not spec.valid:
        return 400 <= status < 500
    if status != 200:
        return False
    if spec.expect is not None:
        return spec.expect == ANY or body == spec.expect
    reference = record.golden.setdefault(index, body)
    return body == reference or same_json(body, reference)


def same_json(a: bytes, b: bytes) -> bool:
    """Equal as parsed JSON: the order of a protobuf map's names is not defined
    (compatibility.md §6.2), and each worker may print them in its own order."""
    try:
        return bool(orjson.loads(a) == orjson.loads(b))
    except orjson.JSONDecodeError:
        return False


async def one_request(session: aiohttp.ClientSession, base: str, spec: Spec) -> tuple[int, bytes]:
    headers = dict(spec.headers)
    if spec.body:
        headers.setdefault("Content-Type", "application/json")
    try:
        async with session.request(
            spec.method, base + spec.path, data=spec.body or None, headers=headers
        ) as reply:
            return reply.status, await reply.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return 0, repr(exc).encode()


async def client(
    session: aiohttp.ClientSession,
    base: str,
    specs: list[Spec],
    rng: random.Random,
    record: Record,
    stop_at: float,
) -> None:
    weights = [s.weight for s in specs]
    indices = list(range(len(specs)))
    while record.now() < stop_at:
        (index,) = rng.choices(indices, weights)
        spec = specs[index]
        t0 = record.now()
        status, body = await one_request(session, base, spec)
        t1 = record.now()
        ok = judge(record, index, spec, status, body)
        record.requests.append((t0, t1, index, status, ok))
        if not ok and len(record.wrong) < 200:
            record.wrong.append(
                {
                    "t": round(t1, 3),
                    "spec": spec.name,
                    "status": status,
                    "body": body[:300].decode("utf-8", "replace"),
                }
            )


def process_roles(
    gateway: psutil.Process, modelserver: subprocess.Popen[bytes] | None
) -> dict[str, psutil.Process]:
    roles = {"gateway": gateway}
    children = sorted(gateway.children(recursive=True), key=lambda p: p.pid)
    workers = [c for c in children if "resource_tracker" not in " ".join(_cmdline(c))]
    for i, child in enumerate(workers):
        roles[f"worker-{i + 1}"] = child
    if modelserver is not None and modelserver.poll() is None:
        with contextlib.suppress(psutil.Error):
            roles["modelserver"] = psutil.Process(modelserver.pid)
    return roles


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


def sample(record: Record, gateway: psutil.Process, ms: ModelServer) -> None:
    entry: dict[str, Any] = {"t": round(record.now(), 3), "processes": {}}
    for role, proc in process_roles(gateway, ms.proc).items():
        try:
            with proc.oneshot():
                entry["processes"][role] = {
                    "pid": proc.pid,
                    "rss_mib": round(proc.memory_info().rss / 2**20, 2),
                    "fds": proc.num_fds(),
                    "threads": proc.num_threads(),
                }
        except psutil.Error:
            continue
    record.samples.append(entry)


async def sampler(record: Record, gateway: psutil.Process, ms: ModelServer, stop_at: float) -> None:
    while record.now() < stop_at:
        await asyncio.to_thread(sample, record, gateway, ms)
        await asyncio.sleep(SAMPLE_EVERY_S)


async def wait_ready(session: aiohttp.ClientSession, base: str, deadline_s: float) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.get(base + "/readyz") as reply:
                if reply.status == 200:
                    return True
        await asyncio.sleep(READY_POLL_S)
    return False


async def chaos(
    session: aiohttp.ClientSession,
    base: str,
    ms: ModelServer,
    rng: random.Random,
    record: Record,
    stop_at: float,
    every: tuple[float, float],
) -> None:
    """SIGKILL the ModelServer every 30-60 s, restart it at once on the same port."""
    while True:
        wait = rng.uniform(*every)
        if record.now() + wait > stop_at - 10:
            return
        await asyncio.sleep(wait)
        await asyncio.to_thread(ms.kill)
        record.events.append((record.now(), "kill"))
        ms.start()
        if not await wait_ready(session, base, 180):
            record.events.append((record.now(), "never-up"))
            return
        record.events.append((record.now(), "up"))


# --- the run -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    minutes: float
    workers: int
    concurrency: int
    seed: int
    warmup_minutes: float
    chaos_every: tuple[float, float]
    out: Path


async def drive(options: Options, base: str, gateway: psutil.Process, ms: ModelServer) -> Record:
    specs = traffic()
    record = Record()
    stop_at = options.minutes * 60
    rng = random.Random(options.seed)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=options.concurrency)
    async with (
        aiohttp.ClientSession(timeout=timeout, connector=connector) as session,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as probe,
    ):
        tasks = [
            client(session, base, specs, random.Random(rng.random()), record, stop_at)
            for _ in range(options.concurrency)
        ]
        tasks.append(sampler(record, gateway, ms, stop_at))
        tasks.append(chaos(probe, base, ms, rng, record, stop_at, options.chaos_every))
        await asyncio.gather(*tasks)
    record.golden.clear()
    return record


def run(options: Options) -> dict[str, Any]:
    options.out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="tfs-soak-"))
    ms_log = open(options.out / "modelserver.log", "wb")  # noqa: SIM115 - lives for the run
    gw_log = open(options.out / "gateway.log", "wb")  # noqa: SIM115
    ms = ModelServer(procs.free_port(), models_config(scratch), ms_log)
    gateway_proc = None
    try:
        ms.start()
        port = procs.free_port()
        gateway_proc = start_gateway(port, f"127.0.0.1:{ms.port}", options.workers, gw_log)
        base = f"http://127.0.0.1:{port}"
        asyncio.run(_until_ready(base))
        print(f"soak: gateway {base}, ModelServer :{ms.port}; {options.minutes} min", flush=True)
        record = asyncio.run(drive(options, base, psutil.Process(gateway_proc.pid), ms))
    finally:
        if gateway_proc is not None:
            procs.stop(gateway_proc)
        ms.stop()
        ms_log.close()
        gw_log.close()
    specs = traffic()
    gateway_errors = soak_report.log_errors(
        (options.out / "gateway.log").read_text("utf-8", "replace")
    )
    return soak_report.summarize(
        record, specs, options_dict(options), machine.info(), gateway_errors
    )


async def _until_ready(base: str) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        if not await wait_ready(session, base, 240):
            raise RuntimeError("the gateway never became ready")


def options_dict(options: Options) -> dict[str, Any]:
    return {
        "minutes": options.minutes,
        "workers": options.workers,
        "concurrency": options.concurrency,
        "seed": options.seed,
        "warmup_minutes": options.warmup_minutes,
        "chaos_every_s": list(options.chaos_every),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--warmup-minutes", type=float, help="default: a sixth of the run, at most 5"
    )
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/soak-<time>/")
    args = parser.parse_args(argv)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    options = Options(
        minutes=args.minutes,
        workers=args.workers,
        concurrency=args.concurrency,
        seed=args.seed,
        warmup_minutes=args.warmup_minutes
        if args.warmup_minutes is not None
        else min(5.0, args.minutes / 6),
        chaos_every=(30.0, 60.0),
        out=args.out or REPO / "benchmarks" / "results" / f"soak-{stamp}",
    )
    result = run(options)
    (options.out / "soak.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    soak_report.chart(result, options.out / "soak.png")
    print(soak_report.text(result))
    print(f"soak: results in {options.out}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
