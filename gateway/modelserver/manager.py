"""Which model versions are loaded, their states, labels and config reloads.

Mirrors TF Serving's ServerCore + AspiredVersionsManager closely enough for
clients to see the same behaviour:

- every configured model is polled (``--file_system_poll_wait_seconds``); new
  aspired versions are loaded before old ones are unloaded, so a model stays
  available during a roll-over;
- each version ever tracked keeps a state (START, LOADING, AVAILABLE,
  UNLOADING, END) and a status; the status API lists them all, highest first;
- a version that failed to load stays in END with its error and is not retried;
- labels are replaced as a whole on each config and may only point to an
  AVAILABLE version, unless ``--allow_version_labels_for_unavailable_models``
  (which still forbids moving an existing label to an unavailable version);
- requests resolve ``Latest(m)`` to the highest AVAILABLE version.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.core import protos
from gateway.core.errors import Code, GatewayError, invalid_argument
from gateway.modelserver.servable import Servable
from gateway.modelserver.versions import aspired_versions, versions_on_disk

log = logging.getLogger("gateway.modelserver")

STATE = protos.ModelState.values_by_name
START = STATE["START"].number
LOADING = STATE["LOADING"].number
AVAILABLE = STATE["AVAILABLE"].number
UNLOADING = STATE["UNLOADING"].number
END = STATE["END"].number

TENSORFLOW_PLATFORM = "tensorflow"


@dataclass
class VersionState:
    """The manager state and health of one model version."""

    state: int
    error_code: int = 0
    error_message: str = ""
    servable: Servable | None = None

    @property
    def failed(self) -> bool:
        return self.state == END and self.error_code != 0


def failed_precondition(message: str) -> GatewayError:
    return GatewayError(Code.FAILED_PRECONDITION, message)


class ModelManager:
    """Loads, serves and unloads model versions for one ModelServerConfig."""

    def __init__(
        self,
        allow_labels_for_unavailable: bool = False,
        loader: Callable[[str], Servable] = Servable,
    ) -> None:
        self.allow_labels_for_unavailable = allow_labels_for_unavailable
        self._loader = loader
        self._config: Any = protos.ModelServerConfig()
        self._models: dict[str, Any] = {}
        self._versions: dict[str, dict[int, VersionState]] = {}
        self._labels: dict[str, dict[str, int]] = {}
        self._state_lock = threading.Lock()  # guards the three dicts above
        self._sync_lock = threading.Lock()  # one reconcile at a time (poll vs reload)
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    # --- requests -------------------------------------------------------

    def servable(self, spec: Any) -> tuple[int, Servable]:
        """Resolve a ModelSpec to (version, servable) as ServerCore does."""
        name = spec.name
        if not name:
            raise invalid_argument("ModelSpec has no name specified.")
        choice = spec.WhichOneof("version_choice")
        with self._state_lock:
            if choice == "version_label":
                version: int | None = self._label_version(name, spec.version_label)
            else:
                version = spec.version.value if choice == "version" else None
            found = self._available(name, version)
        if found is None:
            request = f"Latest({name})" if version is None else f"Specific({name}, {version})"
            raise GatewayError(Code.NOT_FOUND, f"Servable not found for request: {request}")
        return found

    def _label_version(self, name: str, label: str) -> int:
        version = self._labels.get(name, {}).get(label)
        if version is None:
            raise invalid_argument(f"Unrecognized servable version label: {label}")
        return version

    def _available(self, name: str, version: int | None) -> tuple[int, Servable] | None:
        if name not in self._models:
            return None
        versions = self._versions.get(name, {})
        candidates = sorted(versions, reverse=True) if version is None else [version]
        for number in candidates:
            entry = versions.get(number)
            if entry is not None and entry.state == AVAILABLE and entry.servable is not None:
                return number, entry.servable
        return None

    def status(self, name: str, version: int | None) -> list[tuple[int, VersionState]]:
        """Tracked versions of a model, highest first (GetModelStatus)."""
        with self._state_lock:
            versions = dict(self._versions.get(name, {}))
        if version is not None:
            if version not in versions:
                raise GatewayError(
                    Code.NOT_FOUND, f"Could not find version {version} of model {name}"
                )
            return [(version, versions[version])]
        if not versions:
            raise GatewayError(Code.NOT_FOUND, f"Could not find any versions of model {name}")
        return sorted(versions.items(), reverse=True)

    # --- configuration --------------------------------------------------

    def reload(self, config: Any) -> None:
        """Apply a new ModelServerConfig (startup and HandleReloadConfigRequest)."""
        with self._sync_lock:
            if not self._accept_transition(config):
                return
            models = _validate_model_list(config.model_config_list)
            self._check_platforms_unchanged(models)
            labels = self._new_labels(models)
            for model in models.values():
                _check_platform(model)
            new_names = [name for name in models if name not in self._models]
            with self._state_lock:
                self._config = config
                self._models = models
                self._labels = labels
            self._reconcile_all()
            self._check_new_models_loaded(new_names)

    def _accept_transition(self, config: Any) -> bool:
        first = self._config.WhichOneof("config") is None
        kind = config.WhichOneof("config")
        if not first and not (
            self._config.WhichOneof("config") == "model_config_list" and kind == "model_config_list"
        ):
            raise failed_precondition(
                "Cannot transition to requested config. It is only legal to transition "
                "from one ModelConfigList to another."
            )
        if kind is None:
            log.info("Taking no action for empty config.")
            return False
        if kind != "model_config_list":
            raise invalid_argument("Missing custom_model_config_loader in ServerCore Options")
        return True

    def _check_platforms_unchanged(self, models: dict[str, Any]) -> None:
        for name, model in models.items():
            old = self._models.get(name)
            if old is None:
                continue
            old_platform, new_platform = _platform(old), _platform(model)
            if old_platform != new_platform:
                raise invalid_argument(
                    f"Illegal to change a model's platform. For model {name} platform was "
                    f"{old_platform} and new platform requested is {new_platform}"
                )

    def _new_labels(self, models: dict[str, Any]) -> dict[str, dict[str, int]]:
        labels: dict[str, dict[str, int]] = {}
        for name, model in models.items():
            for label, version in model.version_labels.items():
                self._check_label(name, label, version)
                labels.setdefault(name, {})[label] = version
        return labels

    def _check_label(self, name: str, label: str, version: int) -> None:
        with self._state_lock:
            existing = self._labels.get(name, {}).get(label, version)
            entry = self._versions.get(name, {}).get(version)
        # The flag never lets an existing label move to an unavailable version.
        if self.allow_labels_for_unavailable and existing == version:
            return
        if entry is None or entry.state != AVAILABLE:
            raise failed_precondition(
                f"Request to assign label to version {version} of model {name}, "
                "which is not currently available for inference"
            )

    def _check_new_models_loaded(self, names: list[str]) -> None:
        failures: list[str] = []
        with self._state_lock:
            for name in names:
                versions = self._versions.get(name, {})
                if versions and not any(v.state == AVAILABLE for v in versions.values()):
                    failures.extend(
                        f"{{{{name: {name} version: {number}}} due to error: "
                        f"{Code(v.error_code).name}: {v.error_message}}}, "
                        for number, v in sorted(versions.items())
                        if v.failed
                    )
        if failures:
            raise GatewayError(
                Code.UNKNOWN,
                f"{len(failures)} model(s) did not become available: {{{''.join(failures)}}}",
            )

    # --- polling and reconciling ----------------------------------------

    def start_polling(self, interval_s: float) -> None:
        """Poll every ``interval_s`` seconds; <= 0 polls only once (at load)."""
        if interval_s <= 0:
            return
        self._poller = threading.Thread(
            target=self._poll_loop, args=(interval_s,), name="model-poller", daemon=True
        )
        self._poller.start()

    def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=10)

    def _poll_loop(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                with self._sync_lock:
                    self._reconcile_all()
            except Exception:  # the poller must outlive any one bad pass
                log.exception("model poll failed")

    def _reconcile_all(self) -> None:
        with self._state_lock:
            models = dict(self._models)
            dropped = [name for name in self._versions if name not in models]
        for name in dropped:
            self._reconcile(name, {}, set())
        for name, model in models.items():
            on_disk = self._poll_base_path(name, model.base_path)
            if on_disk is None:
                continue  # loaded versions stay: the path may be back at the next poll
            aspired = aspired_versions(model.model_version_policy, set(on_disk))
            self._reconcile(name, on_disk, aspired)

    def _poll_base_path(self, name: str, base_path: str) -> dict[int, str] | None:
        """The versions on disk, with TF Serving's warnings (once per poll and model)
        for a base path that is missing or holds no version directory."""
        on_disk = versions_on_disk(base_path)
        if on_disk is None:
            log.warning(
                "File system access error: Could not find base path %s for servable %s",
                base_path,
                name,
            )
        elif not on_disk:
            log.warning(
                "No versions of servable %s found under base path %s. Did you forget to "
                "name your leaf directory as a number (eg. '/1/')?",
                name,
                base_path,
            )
        return on_disk

    def _reconcile(self, name: str, on_disk: dict[int, str], aspired: set[int]) -> None:
        with self._state_lock:
            versions = self._versions.setdefault(name, {})
            to_load = [v for v in sorted(aspired) if _wants_load(versions.get(v))]
            to_unload = [
                v for v, e in versions.items() if e.state == AVAILABLE and v not in aspired
            ]
        for version in to_load:
            self._load(name, version, on_disk[version])
        for version in to_unload:
            self._unload(name, version)

    def _set(self, name: str, version: int, entry: VersionState) -> None:
        with self._state_lock:
            self._versions.setdefault(name, {})[version] = entry

    def _load(self, name: str, version: int, path: str) -> None:
        self._set(name, version, VersionState(START))
        self._set(name, version, VersionState(LOADING))
        log.info("Loading servable: {name: %s version: %d} from %s", name, version, path)
        try:
            servable = self._loader(path)
        except Exception as exc:  # any load failure is reported in the status
            log.error("Loading servable: {name: %s version: %d} failed: %s", name, version, exc)
            code = getattr(exc, "error_code", None) or Code.UNKNOWN
            self._set(name, version, VersionState(END, int(code), str(exc)))
            return
        self._set(name, version, VersionState(AVAILABLE, servable=servable))
        log.info("Successfully loaded servable version {name: %s version: %d}", name, version)

    def _unload(self, name: str, version: int) -> None:
        with self._state_lock:
            entry = self._versions[name][version]
            self._versions[name][version] = VersionState(UNLOADING, servable=entry.servable)
        # In-flight requests keep their own reference; the Session closes when
        # the last one is dropped.
        self._set(name, version, VersionState(END))
        log.info("Unloaded servable version {name: %s version: %d}", name, version)


def _wants_load(entry: VersionState | None) -> bool:
    """A version is (re)loaded unless it is loaded, loading, or failed before."""
    return entry is None or (entry.state == END and not entry.failed)


def _platform(model: Any) -> str:
    if model.model_type:
        return TENSORFLOW_PLATFORM if model.model_type == 1 else f"model_type {model.model_type}"
    return str(model.model_platform)


def _check_platform(model: Any) -> None:
    if model.model_type and model.model_platform:
        raise invalid_argument(
            "Illegal setting both ModelServerConfig::model_type (deprecated) "
            "and ModelServerConfig::model_platform."
        )
    platform = _platform(model)
    if not platform:
        raise invalid_argument(
            "Illegal setting neither ModelServerConfig::model_type (deprecated) "
            "nor ModelServerConfig::model_platform."
        )
    if platform != TENSORFLOW_PLATFORM:
        raise invalid_argument(f"Model {model.name} requests unsupported platform {platform}")


def _validate_model_list(model_list: Any) -> dict[str, Any]:
    models: dict[str, Any] = {}
    for model in model_list.config:
        if model.name in models:
            raise invalid_argument(
                f"Illegal to list model {model.name} multiple times in config list"
            )
        if not os.path.isabs(model.base_path) and "://" not in model.base_path:
            raise invalid_argument(
                f"Expected model {model.name} to have an absolute path or URI; "
                f"got base_path()={model.base_path}"
            )
        models[model.name] = model
    return models
