"""Whether each backend answers, as the gateway's own calls find out, logged once per
change: when it stops answering and when it answers again.

A call "answered" when the ModelServer sent any reply, an error status included;
it did not when gRPC reports UNAVAILABLE (refused, unreachable, TLS failure, ...).
A deadline says nothing either way (the model may just be slow). The log names the
backend and the last words of gRPC's reason, never the backend's address.

The workers of one gateway share a ``HealthBoard`` (shared memory), so a change that
several workers see is logged by the first one only. The supervisor writes what its
start-up probe found on it before the workers take their first request.
"""

from __future__ import annotations

import logging
import multiprocessing
import re
from collections.abc import Iterable

log = logging.getLogger("tfs_gateway")

# Address-like tokens gRPC puts in its texts ("ipv4:10.0.0.5:8500", "dns:///x:8500").
_ADDRESS = re.compile(r"\b(?:ipv4|ipv6|dns|unix|unix-abstract|vsock):\S*")

_UNKNOWN, _DOWN, _UP = -1, 0, 1


def reason_of(details: str) -> str:
    """gRPC's last words ("Connection refused", "Domain name not found"), no addresses."""
    last = details.rsplit(": ", 1)[-1].strip()
    return _ADDRESS.sub("<address>", last) or "unavailable"


def _code(answering: bool | None) -> int:
    return _UNKNOWN if answering is None else int(answering)


def _state(code: int) -> bool | None:
    return None if code == _UNKNOWN else bool(code)


class HealthBoard:
    """Every backend's state in shared memory: None not known yet, True answering, False not.

    Made by the supervisor before it forks the workers, which inherit it.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self._index = {name: i for i, name in enumerate(names)}
        shared = multiprocessing.get_context("fork")
        self._cells = shared.Array("b", [_UNKNOWN] * len(self._index))

    def get(self, name: str) -> bool | None:
        return _state(self._cells[self._index[name]])

    def exchange(self, name: str, answering: bool) -> bool | None:
        """Record the state; return the one it replaced."""
        with self._cells.get_lock():
            index = self._index[name]
            old = self._cells[index]
            self._cells[index] = _code(answering)
        return _state(old)


class BackendHealth:
    """One worker's view of one backend; changes go through the shared board."""

    def __init__(self, name: str, board: HealthBoard | None = None) -> None:
        self.name = name
        self.board = board
        self.answering = board.get(name) if board is not None else None

    def _record(self, answering: bool) -> bool | None:
        """The state before this one, as every worker knew it."""
        previous, self.answering = self.answering, answering
        return previous if self.board is None else self.board.exchange(self.name, answering)

    def answered(self) -> None:
        if self.answering is True:
            return  # the common case: no lock
        if self._record(True) is False:
            log.info("backend %s answers again", self.name)

    def unavailable(self, details: str) -> None:
        if self.answering is False:
            return
        previous = self._record(False)
        if previous is not False:
            verb = "stopped answering" if previous else "does not answer"
            log.warning(
                "backend %s %s (%s); its requests get 503 until it answers again",
                self.name,
                verb,
                reason_of(details),
            )
