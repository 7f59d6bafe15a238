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
import select
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from types import FrameType

from gateway.config import (
    KNOBS,
    ConfigError,
    EmbeddedModelServer,
    Settings,
    build_settings,
    knob_defaults,
)
from gateway.core import embedded
from gateway.core.backends import probe_backends
from gateway.core.health import HealthBoard
from gateway.core.ports import ListenError, check_can_listen, os_reason
from gateway.edge.security import server_ssl_context

# prometheus-client picks its multiprocess mode when it is first imported, so this is
# set before the app (and with it the metrics module) is imported.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

LINGERING_S = 2.0

log = logging.getLogger("tfs_gateway")


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


def run_worker(settings: Settings, health: HealthBoard | None = None) -> None:
    """One gateway process; several of them share the port through SO_REUSEPORT."""
    from gateway.edge.middleware import answer_protocol_errors_in_json

    configure_logging(settings)
    answer_protocol_errors_in_json()
    try:
        serve_forever(settings, health)
    except OSError as exc:  # taken between the check in main() and now
        where = f"{settings.host}:{settings.port}"
        raise ListenError(f"cannot listen on {where}: {os_reason(exc)}") from None


def serve_forever(settings: Settings, health: HealthBoard | None) -> None:
    from aiohttp import web

    from gateway.app import create_app

    web.run_app(
        create_app(settings, health),
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
    """Forked workers, each waiting on a pipe for the settings it is to run; they share
    the supervisor's health board (shared memory made before the fork)."""

    def __init__(self, health: HealthBoard) -> None:
        self.health = health
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
                os._exit(_worker_exit_code(read_end, self.health))
            os.close(read_end)
            self.pids.append(pid)
            self.pipes.append(write_end)

    def start(self, settings: Settings) -> int:
        """Hand the settings to every worker, forward SIGTERM/SIGINT to them, wait.

        Returns the exit status: 1 when a worker failed (the others are then stopped:
        a gateway does not run short-handed, and whatever supervises it sees why).
        """
        payload = pickle.dumps(settings)
        for fd in self.pipes:
            with os.fdopen(fd, "wb") as pipe:
                pipe.write(payload)
        self.pipes = []
        signal.signal(signal.SIGTERM, self._forward)
        signal.signal(signal.SIGINT, self._forward)
        return self._watch()

    def _forward(self, signum: int, _frame: object) -> None:
        for pid in self.pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signum)

    def abandon(self) -> None:
        """Close the pipes unused: each waiting worker reads EOF and exits (one that got
        its settings before start-up was cut short is told to stop)."""
        for fd in self.pipes:
            with suppress(OSError):
                os.close(fd)
        self.pipes = []
        self._forward(signal.SIGTERM, None)
        self._reap()

    def _reap(self) -> None:
        while self.pids:
            os.waitpid(self.pids[0], 0)
            self.pids.pop(0)

    def _watch(self) -> int:
        """Wait for every worker, whichever ends first (pidfds: the ModelServer child
        is not waited for here, it belongs to its Popen)."""
        if not hasattr(os, "pidfd_open"):  # not Linux: in order
            self._reap()
            return 0
        status = 0
        fds = {os.pidfd_open(pid): pid for pid in self.pids}
        try:
            while fds:
                ready, _, _ = select.select(list(fds), [], [])
                for fd in ready:
                    pid = fds.pop(fd)
                    os.close(fd)
                    self.pids.remove(pid)
                    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
                    if code != 0 and status == 0:
                        status = 1
                        log.error("a worker exited with %s; stopping the gateway", code)
                        self._forward(signal.SIGTERM, None)
        finally:
            for fd in fds:
                os.close(fd)
        return status


def _worker_exit_code(read_end: int, health: HealthBoard) -> int:
    """Whatever happens in a forked worker ends in its exit status: an exception must
    never unwind into the supervisor's code that the fork copied."""
    try:
        return _worker_main(read_end, health)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        log.exception("worker failed")
        return 1


def _worker_main(read_end: int, health: HealthBoard) -> int:
    """A forked worker: start-up failures are one line and exit status 1."""
    # Until the app installs its draining handlers, a signal simply ends a worker.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    if not payload:
        return 0
    try:
        run_worker(pickle.loads(payload), health)
    except ListenError as exc:
        print(f"tfs-gateway: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


@contextmanager
def forked_workers(settings: Settings, health: HealthBoard) -> Iterator[Workers | None]:
    """Fork ``settings.workers`` waiting workers (None for one worker: it runs in-process)."""
    if settings.workers == 1:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="tfs-gateway-metrics-") as metrics_dir:
        os.environ[MULTIPROC_ENV] = metrics_dir
        import gateway.app  # noqa: F401  (everything the workers run, imported once, shared)

        gc.collect()
        gc.freeze()
        workers = Workers(health)
        try:
            workers.fork(settings.workers)
            yield workers
        finally:
            workers.abandon()


class _Stop(BaseException):
    """SIGTERM or SIGINT during start-up: unwinds, stopping whatever was started."""


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signum)


def start_backend(settings: Settings) -> tuple[Settings, subprocess.Popen[bytes] | None]:
    """The embedded ModelServer, when no backend target is configured."""
    if settings.model_server is not None or not settings.embedded.wanted:
        return settings, None
    child, target = embedded.start(settings.embedded)
    return replace(settings, model_server=target), child


def run(settings: Settings) -> int:
    """Check the port, fork the workers, start the embedded ModelServer if wanted, serve.

    From the fork until the workers (or the app) install their own handlers, a signal
    unwinds start-up: the ModelServer child and the waiting workers never outlive this
    process.
    """
    check_can_listen(settings.host, settings.port, reuse_port=settings.workers > 1)
    health = HealthBoard(settings.backend_names())
    with forked_workers(settings, health) as workers:
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        configure_logging(settings)
        child = None
        try:
            settings, child = start_backend(settings)
            probe_backends(settings, health)
            scheme = "https" if settings.tls_cert_file else "http"
            print(
                f"tfs-gateway on {scheme}://{settings.host}:{settings.port} -> "
                f"{ {n: b.target for n, b in settings.all_backends().items()} } "
                f"({settings.workers} worker(s))",
                flush=True,
            )
            if workers is None:
                run_worker(settings, health)
                return 0
            return workers.start(settings)
        finally:
            if child is not None:
                embedded.stop(child)


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    try:
        settings = settings_from_args(args, dict(os.environ))
        server_ssl_context(settings)  # bad certificate or key files fail here, not in a worker
    except ConfigError as exc:
        print(f"tfs-gateway: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        return run(settings)
    except embedded.StartError as exc:
        print(f"tfs-gateway: {exc}", file=sys.stderr)
        return exc.exit_status
    except ListenError as exc:
        print(f"tfs-gateway: {exc}", file=sys.stderr)
        return 1
    except _Stop as stop:
        return 128 + int(stop.args[0])
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
