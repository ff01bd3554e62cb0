"""The node's JSON config: parse, apply environment overrides, validate — all before start.

Environment variables (documented in README.md):
``AGENTCELL_ENDPOINT``, ``AGENTCELL_DATA_DIR``, ``AGENTCELL_LOG_LEVEL``,
``AGENTCELL_MAX_MESSAGE_BYTES``, ``AGENTCELL_SECURITY`` (JSON) and ``AGENTCELL_INSECURE``
override node keys (a client's ``AGENTCELL_CLIENT_KEY``/``AGENTCELL_NODE_KEY`` are
ignored); ``AGENTCELL_<ACTOR>__<SETTING>`` sets one setting of one actor (names
upper-cased, ``-`` and ``.`` as ``_``; the value is read as JSON, else as a string).

Two things a user's own actors need are settled here as well: a config may start from the
embedded defaults (``"extends": "defaults"``), and the directory of the config file plus
every ``--path`` directory go on the import path, so ``"module:Class"`` finds a module
that lives beside the config (see :func:`extend_import_path`).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from actors import (
    ENV_CLIENT_KEY,
    ENV_NODE_KEY,
    ServerKeys,
    build_settings,
    is_local,
    load_actor_class,
)
from actors.observe import ServeSettings
from messages import DEFAULT_MAX_MESSAGE_BYTES, ConfigError, InvalidBody, from_wire

from ._specs import ChildSpec, SupervisorSpec

DEFAULT_ENDPOINT: Final = "tcp://127.0.0.1:5570"
ENV_PREFIX: Final = "AGENTCELL_"
_NODE_KEYS: Final = ("endpoint", "data_dir", "log_level", "max_message_bytes", "security",
                      "insecure")
_SUPERVISOR_KEYS: Final = ("name", "strategy", "max_restarts", "max_seconds", "restart", "children")
_ENDPOINT: Final = re.compile(r"^(tcp://[^\s]+:\d+|ipc://.+)$")
SHORTHAND_ACTORS: Final = ("dashboard", "metrics")
"""Built-ins a top-level key (``"metrics": {"port": 9464}``) or an environment variable
(``AGENTCELL_METRICS__PORT``) adds as a child of the root, of that name, with those settings."""
CLIENT_VARIABLES: Final = frozenset({ENV_CLIENT_KEY, ENV_NODE_KEY})
"""A client's keys (read by ``actors.connect``), not node settings: a node ignores them."""
EXTENDS_KEY: Final = "extends"
"""Top-level key: ``"extends": "defaults"`` adds the config's children to the default ones."""

DEFAULT_CONFIG: Final[dict[str, Any]] = {
    "strategy": "one_for_one",
    "max_restarts": 5,
    "max_seconds": 10,
    "children": [
        {"name": "profiler", "actor": "profiler"},
        {"name": "health", "actor": "health"},
        {"name": "breaker", "actor": "breaker"},
        {"name": "pool", "actor": "pool"},
        {"name": "recovery", "actor": "recovery"},
        {"name": "echo", "actor": "echo"},
    ],
}
"""What ``python run_node.py`` runs without ``--config``: needs no database server."""


@attrs.frozen(kw_only=True)
class SecurityConfig:
    """``"security"``: CurveZMQ on every TCP socket of the node, clients let in by key."""

    keys: str
    """Directory written by ``run_node.py keys`` (node key pair, ``operator/`` and
    ``agent/`` folders of allowed public keys); made absolute when the config is loaded."""


@attrs.frozen(kw_only=True)
class NodeConfig:
    """A validated node config."""

    endpoint: str = DEFAULT_ENDPOINT
    data_dir: str = "data"
    log_level: str = "INFO"
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    root: SupervisorSpec = attrs.field(factory=lambda: SupervisorSpec(name="root"))
    import_path: tuple[str, ...] = ()
    """Absolute directories put in front of ``sys.path`` for user actor modules."""
    security: SecurityConfig | None = None
    insecure: bool = False
    """Serve beyond loopback without ``security`` (a warning is logged); refused otherwise."""


def load_config(path: str | None, env: Mapping[str, str] | None = None,
                endpoint: str | None = None, *, import_path: Iterable[str] = ()) -> NodeConfig:
    """Read ``path`` (or the embedded default), apply ``env`` and ``endpoint``, validate.

    The config file's directory, then each of ``import_path``, go in front of ``sys.path``
    before any actor class is imported (:func:`extend_import_path`).
    """
    if path is None:
        raw: Any = json.loads(json.dumps(DEFAULT_CONFIG))
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"config file {path!r} cannot be read: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"config file {path!r} is not UTF-8 text: {exc}") from exc
        try:
            raw = json.loads(text)
        except ValueError as exc:  # JSONDecodeError, or an integer of over 4300 digits
            raise ConfigError(f"config file {path!r} is not valid JSON: {exc}") from exc
        except RecursionError:
            raise ConfigError(f"config file {path!r} nests JSON too deeply to read") from None
    dirs = extend_import_path(([] if path is None else [str(Path(path).parent)]) + list(import_path))
    try:
        config = parse_config(raw, env if env is not None else os.environ, endpoint)
    except ConfigError as exc:
        if _missing_module(exc):
            raise ConfigError(f"{exc}; user modules are imported from "
                              f"{', '.join(dirs) or 'the directory of --config'} (the config "
                              "file's directory, then each --path DIR) and from PYTHONPATH") from exc
        raise
    return attrs.evolve(config, import_path=dirs)


def extend_import_path(dirs: Iterable[str]) -> tuple[str, ...]:
    """Put each directory, made absolute, in front of ``sys.path`` (once); return them.

    The node imports actor classes to validate the config, and actor hosts import them
    again: hosts fork from a forkserver that copies the node's ``sys.path`` when it
    starts (at the first launch, after the config is loaded), so both see these
    directories, restarts and warm standbys included.
    """
    absolute = tuple(dict.fromkeys(str(Path(d).resolve()) for d in dirs))
    for directory in reversed(absolute):
        if directory in sys.path:
            sys.path.remove(directory)
        sys.path.insert(0, directory)
    return absolute


def _missing_module(exc: BaseException) -> bool:
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, ModuleNotFoundError):
            return True
        cause = cause.__cause__
    return False


def parse_config(raw: Any, env: Mapping[str, str], endpoint: str | None = None) -> NodeConfig:
    """Validate a decoded config; ConfigError names the key, child or class at fault."""
    if not isinstance(raw, dict):
        raise ConfigError(f"config must be a JSON object, got {type(raw).__name__}")
    known = (*_NODE_KEYS, *_SUPERVISOR_KEYS, *SHORTHAND_ACTORS, EXTENDS_KEY)
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"config: unknown key(s) {', '.join(unknown)}; known: "
                          f"{', '.join(sorted(known))}")
    raw = _extend(raw)
    _add_shorthands(raw, env)
    _apply_env(raw, env)
    if endpoint is not None:
        raw["endpoint"] = endpoint
    node_fields = {k: raw[k] for k in _NODE_KEYS if k in raw}
    root_raw = {k: raw[k] for k in _SUPERVISOR_KEYS if k in raw}
    root_raw.setdefault("name", "root")
    root = _supervisor(root_raw, "config")
    root.check()
    serving: list[tuple[str, ServeSettings]] = []
    for spec in root.walk():
        if isinstance(spec, ChildSpec):
            where = f"config child {spec.name!r}"
            try:
                cls = load_actor_class(spec.actor)
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from exc
            settings = build_settings(cls, spec.settings, where)
            if isinstance(settings, ServeSettings):
                serving.append((where, settings))
    try:
        config = from_wire(NodeConfig, node_fields)
    except InvalidBody as exc:
        raise ConfigError(f"config: {exc}".replace("NodeConfig.", "")) from exc
    config = attrs.evolve(config, root=root)
    check_endpoint(config.endpoint, "config: endpoint")
    if config.max_message_bytes < 1024:
        raise ConfigError(f"config: max_message_bytes must be >= 1024, got {config.max_message_bytes}")
    config = _check_security(config)
    for where, settings in serving:  # HTTP servers of actors (metrics, dashboard): same rule
        problem = settings.exposure_problem(secured=config.security is not None,
                                            insecure=config.insecure)
        if problem is not None:
            raise ConfigError(f"{where}: {problem}")
    return config


def _check_security(config: NodeConfig) -> NodeConfig:
    """Keys that load (their directory made absolute), and no endpoint beyond this machine
    without them unless the config says ``"insecure": true``."""
    if config.security is not None:
        keys = str(Path(config.security.keys).resolve())
        ServerKeys.load(keys)  # ConfigError names what is missing
        return attrs.evolve(config, security=SecurityConfig(keys=keys))
    if not is_local(config.endpoint) and not config.insecure:
        raise ConfigError(
            f"config: endpoint {config.endpoint} can be reached from other machines, and "
            "without \"security\" anyone who reaches it could ask every actor and stop the "
            "node; create keys with `python run_node.py keys keys/` and add "
            "\"security\": {\"keys\": \"keys\"} to the config (clients then need a key: "
            "--client-key/--node-key), or bind to 127.0.0.1 (or set \"insecure\": true to "
            "serve without authentication)")
    return config


def check_endpoint(endpoint: str, what: str = "endpoint") -> str:
    """``endpoint`` if it looks like ``tcp://HOST:PORT`` or ``ipc://PATH``; ConfigError otherwise."""
    if not _ENDPOINT.match(endpoint):
        raise ConfigError(f"{what} must look like tcp://HOST:PORT or ipc://PATH, got {endpoint!r}")
    return endpoint


def _extend(raw: dict[str, Any]) -> dict[str, Any]:
    """Apply ``"extends": "defaults"``: the default config, overridden key by key by this
    one; a child named like a default child replaces it in place, other children follow."""
    if EXTENDS_KEY not in raw:
        return raw
    base = raw[EXTENDS_KEY]
    if base != "defaults":
        raise ConfigError(f"config: {EXTENDS_KEY} must be \"defaults\" (the embedded default "
                          f"config README shows), got {base!r}")
    children = raw.get("children", [])
    if not isinstance(children, list):
        raise ConfigError(f"config: children must be a list, got {type(children).__name__}")
    merged: dict[str, Any] = json.loads(json.dumps(DEFAULT_CONFIG))
    merged.update({k: v for k, v in raw.items() if k not in (EXTENDS_KEY, "children")})
    defaults: list[Any] = merged["children"]
    position = {child["name"]: i for i, child in enumerate(defaults)}
    for child in children:
        name = child.get("name") if isinstance(child, dict) else None
        if isinstance(name, str) and name in position:
            defaults[position.pop(name)] = child
        else:
            defaults.append(child)
    return merged


def _add_shorthands(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    """Turn each top-level ``SHORTHAND_ACTORS`` key, or an environment variable for one,
    into a root child of that name; a child of that name already in the config wins."""
    for name in SHORTHAND_ACTORS:
        settings = raw.pop(name, None)
        by_env = any(var.startswith(f"{ENV_PREFIX}{_env_key(name)}__") for var in env)
        if settings is None and not by_env:
            continue
        if settings is not None and not isinstance(settings, dict):
            raise ConfigError(f"config: {name} must be an object of settings, e.g. "
                              f'"{name}": {{"port": 9464}}, got {type(settings).__name__}')
        if any(child.get("name") == name for child in _all_children(raw)):
            if settings is not None:
                raise ConfigError(f"config: the top-level key {name!r} adds a child named "
                                  f"{name!r}, and the config has one already; keep one of them")
            continue
        children = raw.setdefault("children", [])
        if not isinstance(children, list):
            raise ConfigError(f"config: children must be a list, got {type(children).__name__}")
        children.append({"name": name, "actor": name, "settings": settings or {}})


def _supervisor(raw: dict[str, Any], where: str) -> SupervisorSpec:
    children_raw = raw.get("children", [])
    if not isinstance(children_raw, list):
        raise ConfigError(f"{where}: children must be a list, got {type(children_raw).__name__}")
    children: list[ChildSpec | SupervisorSpec] = []
    for i, child in enumerate(children_raw):
        here = f"{where} children[{i}]"
        if not isinstance(child, dict):
            raise ConfigError(f"{here}: must be an object, got {type(child).__name__}")
        if "name" not in child:
            raise ConfigError(f"{here}: required key 'name' is missing")
        here = f"{where} child {child['name']!r}"
        if "children" in child:
            unknown = sorted(set(child) - set(_SUPERVISOR_KEYS))
            if unknown:
                raise ConfigError(f"{here}: unknown key(s) {', '.join(unknown)} for a supervisor")
            children.append(_supervisor(child, here))
        else:
            if "actor" not in child:
                raise ConfigError(f"{here}: required key 'actor' is missing "
                                  "(a built-in name or 'module:Class')")
            children.append(_typed(ChildSpec, child, here))
    fields = {k: v for k, v in raw.items() if k != "children"}
    spec: SupervisorSpec = _typed(SupervisorSpec, {**fields, "children": []}, where)
    return attrs.evolve(spec, children=tuple(children))


def _typed(cls: type[Any], raw: dict[str, Any], where: str) -> Any:
    try:
        return from_wire(cls, raw)
    except InvalidBody as exc:
        text = str(exc).replace(f"{cls.__name__}.", "", 1).replace(f"{cls.__name__}: ", "", 1)
        raise ConfigError(f"{where}: {text}") from exc


def _env_key(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", name.upper())


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    children = _all_children(raw)
    by_key = {_env_key(c["name"]): c for c in children if isinstance(c.get("name"), str)}
    for var, text in env.items():
        if not var.startswith(ENV_PREFIX) or var in CLIENT_VARIABLES:
            continue
        key = var[len(ENV_PREFIX):]
        value = _env_value(text)
        if "__" in key:
            actor, _, setting = key.partition("__")
            child = by_key.get(actor)
            if child is None:
                raise ConfigError(f"environment variable {var}: no actor named like {actor!r} "
                                  f"in the config (actors: {', '.join(sorted(by_key)) or 'none'})")
            settings = child.setdefault("settings", {})
            if not isinstance(settings, dict):
                raise ConfigError(f"config child {child['name']!r}: settings must be an object")
            settings[setting.lower()] = value
        elif key.lower() in _NODE_KEYS:
            raw[key.lower()] = text if key in {"ENDPOINT", "DATA_DIR"} else value
        else:
            raise ConfigError(f"environment variable {var}: unknown; node keys are "
                              f"{', '.join(ENV_PREFIX + k.upper() for k in _NODE_KEYS)}, actor settings "
                              f"are {ENV_PREFIX}<ACTOR>__<SETTING>")


def _all_children(raw: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for child in raw.get("children", []) if isinstance(raw.get("children"), list) else []:
        if isinstance(child, dict):
            out.append(child)
            out.extend(_all_children(child))
    return out


def _env_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
