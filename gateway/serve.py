"""``tfs-gateway serve``: flags -> Settings -> run.

With several workers the supervisor imports the whole gateway, freezes the
garbage collector and forks the workers *before* any gRPC channel, thread or
event loop exists, so code and start-up data stay shared pages. The workers
then wait on a pipe for their final settings: the bundled ModelServer (when
there is one) is started, and waited for over gRPC, only after the fork.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import pickle
import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace

from gateway.config import (
    KNOBS,
    ConfigError,
    EmbeddedModelServer,
    Settings,
    build_settings,
    knob_defaults,
)
from gateway.core import embedded
from gateway.edge.security import server_ssl_context

# prometheus-client picks its multiprocess mode when it is first imported, so this is
# set before the app (and with it the metrics module) is imported.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

LINGERING_S = 2.0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tfs-gateway serve",
        description="TensorFlow Serving's REST API over a ModelServer's gRPC API. "
        "Settings come from defaults < --config FILE (TOML) < TFS_GATEWAY_* variables < flags.",
    )
    p.add_argument("--config", metavar="FILE", help="TOML config file (env TFS_GATEWAY_CONFIG)")
    defaults = knob_defaults()
    for knob in KNOBS:
        kind = str if knob.kind is bool else knob.kind
        p.add_argument(
            knob.flag,
            dest=knob.name,
            type=kind,
            default=None,
            metavar=knob.name.split("_")[-1].upper() if knob.kind is not bool else "BOOL",
            help=f"{knob.help} (default {defaults[knob.name]}; env {knob.env})",
        )
    p.add_argument(
        "--deployment",
        action="append",
        default=[],
        metavar="ID=MODEL",
        help="map a Paperspace deployment id to a model name (repeatable; "
        "env TFS_GATEWAY_DEPLOYMENTS=id=model,...)",
    )
    bundled = p.add_argument_group(
        "bundled ModelServer (started when no --model-server / backend is configured)"
    )
    bundled.add_argument("--model_config_file")
    bundled.add_argument("--model_name")
    bundled.add_argument("--model_base_path")
    bundled.add_argument("--allow_version_labels_for_unavailable_models", action="store_true")
    bundled.add_argument("--file_system_poll_wait_seconds", type=int)
    return p


def embedded_from_args(args: argparse.Namespace) -> EmbeddedModelServer:
    extra: list[str] = []
    if args.allow_version_labels_for_unavailable_models:
        extra.append("--allow_version_labels_for_unavailable_models")
    if args.file_system_poll_wait_seconds is not None:
        extra.append(f"--file_system_poll_wait_seconds={args.file_system_poll_wait_seconds}")
    return EmbeddedModelServer(
        model_config_file=args.model_config_file,
        model_name=args.model_name,
        model_base_path=args.model_base_path,
        extra_args=tuple(extra),
    )


def settings_from_args(args: argparse.Namespace, environ: dict[str, str]) -> Settings:
    flags = {knob.name: getattr(args, knob.name) for knob in KNOBS}
    for knob in KNOBS:
        if knob.kind is bool and flags[knob.name] is not None:
            flags[knob.name] = flags[knob.name].lower() in ("1", "true", "yes", "on")
    return build_settings(args.config, environ, flags, args.deployment, embedded_from_args(args))


def configure_logging(settings: Settings) -> None:
    from gateway.app import ProtocolErrorFilter

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    protocol = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ProtocolErrorFilter) for f in protocol.filters):
        protocol.addFilter(ProtocolErrorFilter())


def run_worker(settings: Settings) -> None:
    """One gateway process; several of them share the port through SO_REUSEPORT."""
    from aiohttp import web

    from gateway.app import create_app
    from gateway.edge.middleware import answer_protocol_errors_in_json

    configure_logging(settings)
    answer_protocol_errors_in_json()
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        ssl_context=server_ssl_context(settings),  # built per worker: contexts do not pickle
        access_log=None,
        reuse_port=settings.workers > 1,
        keepalive_timeout=settings.keepalive_timeout_s,
        shutdown_timeout=settings.shutdown_timeout_s,
        handle_signals=False,  # the app drains on SIGTERM itself (see app.begin_drain)
        # The app inflates gzip bodies itself, with a cap and TF Serving's
        # "a body that fails to inflate is empty" rule (see edge.middleware.read_body).
        auto_decompress=False,
        # After an early answer (408, 413), unread body is drained this long, not
        # aiohttp's 10 s: a trickling sender must not hold the connection.
        lingering_time=LINGERING_S,
        print=None,
    )


class Workers:
    """Forked workers, each waiting on a pipe for the settings it is to run."""

    def __init__(self) -> None:
        self.pids: list[int] = []
        self.pipes: list[int] = []

    def fork(self, count: int) -> None:
        for _ in range(count):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(write_end)
                for fd in self.pipes:  # the other workers' pipes are not this one's
                    os.close(fd)
                os._exit(_worker_main(read_end))
            os.close(read_end)
            self.pids.append(pid)
            self.pipes.append(write_end)

    def start(self, settings: Settings) -> None:
        """Hand the settings to every worker, forward SIGTERM/SIGINT to them, wait."""
        payload = pickle.dumps(settings)
        for fd in self.pipes:
            with os.fdopen(fd, "wb") as pipe:
                pipe.write(payload)
        self.pipes = []
        signal.signal(signal.SIGTERM, self._forward)
        signal.signal(signal.SIGINT, self._forward)
        self._reap()

    def _forward(self, signum: int, _frame: object) -> None:
        for pid in self.pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signum)

    def abandon(self) -> None:
        """Close the pipes unused: each waiting worker reads EOF and exits."""
        for fd in self.pipes:
            os.close(fd)
        self.pipes = []
        self._reap()

    def _reap(self) -> None:
        while self.pids:
            os.waitpid(self.pids[0], 0)
            self.pids.pop(0)


def _worker_main(read_end: int) -> int:
    # Until the app installs its draining handlers, a signal simply ends a worker.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    if not payload:
        return 0
    run_worker(pickle.loads(payload))
    return 0


@contextmanager
def forked_workers(settings: Settings) -> Iterator[Workers | None]:
    """Fork ``settings.workers`` waiting workers (None for one worker: it runs in-process)."""
    if settings.workers == 1:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="tfs-gateway-metrics-") as metrics_dir:
        os.environ[MULTIPROC_ENV] = metrics_dir
        import gateway.app  # noqa: F401  (everything the workers run, imported once, shared)

        gc.collect()
        gc.freeze()
        workers = Workers()
        try:
            workers.fork(settings.workers)
            yield workers
        finally:
            workers.abandon()


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    try:
        settings = settings_from_args(args, dict(os.environ))
        server_ssl_context(settings)  # bad certificate or key files fail here, not in a worker
    except ConfigError as exc:
        print(f"tfs-gateway: configuration error: {exc}", file=sys.stderr)
        return 2
    with forked_workers(settings) as workers:
        configure_logging(settings)
        child = None
        if settings.model_server is None and settings.embedded.wanted:
            child, target = embedded.start(settings.embedded)
            settings = replace(settings, model_server=target)
        scheme = "https" if settings.tls_cert_file else "http"
        print(
            f"tfs-gateway on {scheme}://{settings.host}:{settings.port} -> "
            f"{ {n: b.target for n, b in settings.all_backends().items()} } "
            f"({settings.workers} worker(s))",
            flush=True,
        )
        try:
            if workers is None:
                run_worker(settings)
            else:
                workers.start(settings)
        finally:
            if child is not None:
                embedded.stop(child)
    return 0
