"""``tfs-gateway serve``: flags -> Settings -> run."""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
from collections.abc import Sequence
from dataclasses import replace

from aiohttp import web

from gateway import embedded
from gateway.app import create_app
from gateway.config import EmbeddedModelServer, Settings


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tfs-gateway serve",
        description="TensorFlow Serving's REST API over a ModelServer's gRPC API.",
    )
    d = Settings()
    p.add_argument("--host", default=d.host, help="address to listen on (default %(default)s)")
    p.add_argument("--port", type=int, default=d.port, help="HTTP port (default %(default)s)")
    p.add_argument(
        "--model-server",
        metavar="TARGET",
        help="gRPC target of the ModelServer: host:port, dns:///name:port or ipv4:a:p,b:p. "
        "Without it, the bundled ModelServer is started from the model flags below.",
    )
    p.add_argument(
        "--deployment",
        action="append",
        default=[],
        metavar="ID=MODEL",
        help="map a Paperspace deployment id to a model name (repeatable)",
    )
    p.add_argument("--timeout", type=float, default=d.timeout_s, help="ModelServer deadline, s")
    p.add_argument("--max-body-bytes", type=int, default=d.max_body_bytes)
    p.add_argument("--max-inflated-bytes", type=int, default=d.max_inflated_bytes)
    p.add_argument("--signature-ttl", type=float, default=d.signature_ttl_s)
    p.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="gateway processes sharing the port via SO_REUSEPORT (default: CPUs, %(default)s)",
    )
    p.add_argument("--log-level", default="INFO")
    bundled = p.add_argument_group("bundled ModelServer (used when --model-server is absent)")
    bundled.add_argument("--model_config_file")
    bundled.add_argument("--model_name")
    bundled.add_argument("--model_base_path")
    bundled.add_argument(
        "--allow_version_labels_for_unavailable_models", action="store_true", default=False
    )
    bundled.add_argument("--file_system_poll_wait_seconds", type=int)
    return p


def deployments(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        ident, sep, model = pair.partition("=")
        if not sep or not ident or not model:
            raise SystemExit(f"--deployment expects ID=MODEL, got {pair!r}")
        out[ident] = model
    return out


def settings_from_args(args: argparse.Namespace) -> Settings:
    extra: list[str] = []
    if args.allow_version_labels_for_unavailable_models:
        extra.append("--allow_version_labels_for_unavailable_models")
    if args.file_system_poll_wait_seconds is not None:
        extra.append(f"--file_system_poll_wait_seconds={args.file_system_poll_wait_seconds}")
    return Settings(
        host=args.host,
        port=args.port,
        model_server=args.model_server,
        deployments=deployments(args.deployment),
        embedded=EmbeddedModelServer(
            model_config_file=args.model_config_file,
            model_name=args.model_name,
            model_base_path=args.model_base_path,
            extra_args=tuple(extra),
        ),
        timeout_s=args.timeout,
        max_body_bytes=args.max_body_bytes,
        max_inflated_bytes=args.max_inflated_bytes,
        signature_ttl_s=args.signature_ttl,
        workers=max(1, args.workers),
    )


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)))


def run_worker(settings: Settings, log_level: str = "INFO") -> None:
    """One gateway process; several of them share the port through SO_REUSEPORT."""
    logging.basicConfig(level=log_level, format="%(asctime)s %(name)s %(message)s")
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=None,
        reuse_port=settings.workers > 1,
        print=None,
    )


def run_workers(settings: Settings, log_level: str) -> None:
    """Start the workers (spawned: no gRPC state crosses a fork) and wait for them.

    SIGTERM or SIGINT to this process is passed on, so each worker drains.
    """
    if settings.workers == 1:
        run_worker(settings, log_level)
        return
    spawn = multiprocessing.get_context("spawn")
    workers = [
        spawn.Process(target=run_worker, args=(settings, log_level), name=f"worker-{i}")
        for i in range(settings.workers)
    ]
    for worker in workers:
        worker.start()

    def forward(signum: int, _frame: object) -> None:
        for worker in workers:
            if worker.pid is not None and worker.is_alive():
                os.kill(worker.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for worker in workers:
        worker.join()


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(message)s")
    settings = settings_from_args(args)
    if settings.model_server is None and not settings.embedded.wanted:
        raise SystemExit("give --model-server TARGET, or --model_config_file / --model_base_path")
    child = None
    if settings.model_server is None:
        child, target = embedded.start(settings.embedded)
        settings = replace(settings, model_server=target)
    print(
        f"tfs-gateway on http://{settings.host}:{settings.port} -> {settings.model_server}"
        f" ({settings.workers} worker(s))",
        flush=True,
    )
    try:
        run_workers(settings, args.log_level)
    finally:
        if child is not None:
            embedded.stop(child)
    return 0
