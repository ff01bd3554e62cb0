"""CurveZMQ keys and who may do what: pyzmq's ``zmq.auth`` does the work, nothing here
is cryptography.

A node with ``security`` in its config has a key pair (``node.key`` public,
``node.key_secret`` secret) and a folder of allowed client public keys per role::

    keys/node.key               the node's public key: every client needs it
    keys/node.key_secret        the node's secret key (0600): the node's alone
    keys/operator/NAME.key      clients that may also send node commands
    keys/agent/NAME.key         clients that may ask actors and read the node's state
    keys/clients/NAME.key_secret  a client's key pair, written by ``run_node.py keys``
                                   for you to hand to that client

Every TCP socket the node and its actor hosts bind is a CURVE server with the node's key
pair, authenticated by a ZAP handler (``zmq.auth.thread.ThreadAuthenticator``, one per
process) that lets in only the listed keys and names each peer ``role:name`` in the
ZeroMQ ``User-Id`` of every message it sends. Actor hosts connect to the node as the node
itself (an operator). Unknown keys never complete the handshake: nothing they send
reaches an actor, and they get no reply.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import attrs
import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

from messages import ConfigError

log = logging.getLogger("actors.security")

ZAP_DOMAIN: Final = "agentcell"
ROLE_OPERATOR: Final = "operator"
"""May ask actors and send node commands (stop, restart, stop-child, start-child)."""
ROLE_AGENT: Final = "agent"
"""May ask actors and read the node's state; node commands are ``forbidden``."""
ROLES: Final = (ROLE_OPERATOR, ROLE_AGENT)
NODE_KEY: Final = "node"
"""File stem of the node's key pair in a keys directory."""
CLIENTS_DIR: Final = "clients"
"""Where ``run_node.py keys`` writes client key pairs to hand out."""
ENV_CLIENT_KEY: Final = "AGENTCELL_CLIENT_KEY"
"""Path of a client's secret key file (``NAME.key_secret``) when none is passed."""
ENV_NODE_KEY: Final = "AGENTCELL_NODE_KEY"
"""Path of the node's public key file (``node.key``) when none is passed."""
REFUSALS_LOGGED: Final = 20
"""Refused handshakes logged one by one per process; later ones are only counted."""
_SECRET_MODE: Final = 0o600
_DIR_MODE: Final = 0o700


@attrs.frozen
class ClientKeys:
    """A client's key pair and the public key of the node it talks to (z85 text as bytes)."""

    public: bytes
    secret: bytes = attrs.field(repr=False)
    server: bytes

    def apply(self, socket: zmq.Socket[Any]) -> None:
        """Make ``socket`` (not yet connected) a CURVE client of the node."""
        socket.curve_serverkey = self.server
        socket.curve_publickey = self.public
        socket.curve_secretkey = self.secret

    @classmethod
    def load(cls, client_key: str | os.PathLike[str], node_key: str | os.PathLike[str]) -> ClientKeys:
        """Read a client's ``NAME.key_secret`` and the node's ``node.key``; ConfigError
        says which file is missing or wrong."""
        public, secret = _certificate(client_key, "client key")
        if secret is None:
            raise ConfigError(f"client key {os.fspath(client_key)!r} holds no secret key: pass "
                              "the NAME.key_secret file that `run_node.py keys` wrote for you")
        server, _ = _certificate(node_key, "node key")
        return cls(public, secret, server)

    @classmethod
    def resolve(cls, client_key: str | os.PathLike[str] | None = None,
                node_key: str | os.PathLike[str] | None = None,
                env: Mapping[str, str] | None = None) -> ClientKeys | None:
        """The keys a client was given, else those named by AGENTCELL_CLIENT_KEY and
        AGENTCELL_NODE_KEY; None when neither says anything (a plain connection)."""
        env = os.environ if env is None else env
        client_key = client_key or env.get(ENV_CLIENT_KEY) or None
        node_key = node_key or env.get(ENV_NODE_KEY) or None
        if client_key is None and node_key is None:
            return None
        if client_key is None or node_key is None:
            missing = ("client_key", ENV_CLIENT_KEY) if client_key is None else ("node_key", ENV_NODE_KEY)
            raise ConfigError(f"a secured connection needs both the client's secret key and the "
                              f"node's public key: pass {missing[0]}= (or set {missing[1]})")
        return cls.load(client_key, node_key)


@attrs.frozen
class ServerKeys:
    """The node's key pair and the clients it lets in: public key → (role, name)."""

    public: bytes
    secret: bytes = attrs.field(repr=False)
    clients: Mapping[bytes, tuple[str, str]] = attrs.field(factory=dict)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> ServerKeys:
        """Read a keys directory (see the module doc); ConfigError names what is missing."""
        root = Path(directory)
        if not root.is_dir():
            raise ConfigError(f"security.keys: {os.fspath(root)!r} is not a directory; create "
                              f"one with: python run_node.py keys {os.fspath(root)}")
        public, secret = _certificate(root / f"{NODE_KEY}.key_secret", "node secret key")
        if secret is None:
            raise ConfigError(f"security.keys: {root / (NODE_KEY + '.key_secret')} holds no secret key")
        clients: dict[bytes, tuple[str, str]] = {}
        for role in ROLES:
            folder = root / role
            for path in sorted(folder.glob("*.key")) if folder.is_dir() else []:
                key, _ = _certificate(path, f"{role} key")
                clients[key] = (role, path.stem)
        return cls(public, secret, clients)

    def serve(self, socket: zmq.Socket[Any]) -> None:
        """Make ``socket`` (not yet bound) a CURVE server that only listed clients reach."""
        _authenticator(socket.context, self)
        socket.curve_server = True
        socket.curve_publickey = self.public
        socket.curve_secretkey = self.secret
        socket.zap_domain = ZAP_DOMAIN.encode()

    def role(self, public: bytes) -> tuple[str, str] | None:
        """(role, name) of an allowed client key; the node's own key is an operator."""
        if public == self.public:
            return ROLE_OPERATOR, NODE_KEY
        return self.clients.get(public)


def node_client_environment(directory: str | os.PathLike[str]) -> dict[str, str]:
    """The variables that make every client in a process (an actor host's own connections
    to its node) speak as the node itself: an operator, allowed by every authenticator."""
    root = Path(directory).resolve()
    return {ENV_CLIENT_KEY: str(root / f"{NODE_KEY}.key_secret"),
            ENV_NODE_KEY: str(root / f"{NODE_KEY}.key")}


def authenticated_peer(frame: zmq.Frame) -> tuple[str, str] | None:
    """(role, name) of the authenticated client that sent ``frame``; None on a socket
    without security (ipc, or a node without keys)."""
    try:
        user = frame.get("User-Id")
    except zmq.ZMQError:
        return None
    role, _, name = str(user).partition(":")
    return role, name


def write_keys(directory: str | os.PathLike[str], *, operators: Iterable[str] = (),
               agents: Iterable[str] = ()) -> list[Path]:
    """Create the node's key pair (kept if it exists) and one key pair per named client,
    its public key filed under its role; the files written. ValueError for a client name
    that is taken or not a plain file name."""
    root = Path(directory)
    for folder in (root, root / CLIENTS_DIR, *(root / role for role in ROLES)):
        folder.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    written: list[Path] = []
    if not (root / f"{NODE_KEY}.key_secret").exists():
        written += _create(root, NODE_KEY)
    for role, names in ((ROLE_OPERATOR, operators), (ROLE_AGENT, agents)):
        for name in names:
            if not name or name != Path(name).name or name.startswith(".") or name == NODE_KEY:
                raise ValueError(f"client name {name!r} must be a plain file name, not {NODE_KEY!r}")
            if any((root / where / f"{name}.key").exists() for where in (CLIENTS_DIR, *ROLES)):
                raise ValueError(f"a client named {name!r} already has keys in {root}")
            public, secret = _create(root / CLIENTS_DIR, name)
            allowed = root / role / public.name
            allowed.write_bytes(public.read_bytes())
            written += [public, secret, allowed]
    return written


def _create(directory: Path, name: str) -> list[Path]:
    public, secret = zmq.auth.create_certificates(directory, name)
    os.chmod(secret, _SECRET_MODE)
    return [Path(public), Path(secret)]


def _certificate(path: str | os.PathLike[str], what: str) -> tuple[bytes, bytes | None]:
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{what} {os.fspath(path)!r} cannot be read: {exc}; create keys "
                          "with: python run_node.py keys DIR") from None
    return public, secret


class _Authenticator(ThreadAuthenticator):
    """ZAP handler of one context: lets listed keys in and names them ``role:name``."""

    def __init__(self, context: zmq.Context[Any], keys: ServerKeys) -> None:
        super().__init__(context, log=logging.getLogger("actors.security.zap"))
        self.keys = keys
        self.refused = 0

    def callback(self, domain: str, key: bytes) -> bool:
        """Credentials provider of ``zmq.auth``: whether the client key ``key`` may connect."""
        if self.keys.role(key) is not None:
            return True
        self.refused += 1
        if self.refused <= REFUSALS_LOGGED:
            log.warning("refused a CURVE client with an unknown key %s (domain %s)%s",
                        key.decode(errors="replace"), domain,
                        "; further refusals are only counted" if self.refused == REFUSALS_LOGGED
                        else "")
        return False

    def curve_user_id(self, client_public_key: bytes) -> str:
        """The ``User-Id`` of an admitted client's messages: ``role:name``."""
        found = self.keys.role(z85.encode(client_public_key))
        role, name = found if found is not None else ("", "")
        return f"{role}:{name}"


_AUTHENTICATORS: dict[int, _Authenticator] = {}
_LOCK = threading.Lock()


def _authenticator(context: zmq.Context[Any], keys: ServerKeys) -> _Authenticator:
    """The running authenticator of ``context``, started on first use (before any bind)."""
    with _LOCK:
        auth = _AUTHENTICATORS.get(id(context))
        if auth is None:
            auth = _Authenticator(context, keys)
            auth.start()
            auth.configure_curve_callback(ZAP_DOMAIN, auth)
            _AUTHENTICATORS[id(context)] = auth
        elif auth.keys != keys:
            raise ValueError("one context serves one node's keys")
        return auth


def refused_handshakes(context: zmq.Context[Any]) -> int:
    """How many CURVE clients the authenticator of ``context`` refused (0 without one)."""
    auth = _AUTHENTICATORS.get(id(context))
    return auth.refused if auth is not None else 0


def stop_authenticator(context: zmq.Context[Any]) -> None:
    """Stop the authenticator of ``context``, if any (before the context terminates)."""
    with _LOCK:
        auth = _AUTHENTICATORS.pop(id(context), None)
    if auth is not None:
        auth.stop()
