"""API keys for connectors: read from the environment or a file, never shown.

Settings name *where* a secret is (``api_key_env``, ``api_key_file``), never the secret,
so the config, ``status`` and the statistics cannot carry it. The value lives in a
:class:`Secret`, whose ``repr`` and ``str`` hide it, and every message a connector builds
from something a library said (an exception's text can quote a URL or a header) passes
through :meth:`Redactor.clean` before it reaches a log, an event or an error reply.
"""

from __future__ import annotations

import os
from pathlib import Path

MASK = "***"


class Secret:
    """A secret value; shows as ``Secret(***)`` everywhere but :attr:`value`."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    __str__ = __repr__


def load_secret(where: str, env: str | None, file: str | None) -> Secret | None:
    """The secret named by ``env`` (a variable's name) or ``file`` (a path; surrounding
    whitespace dropped), or None when neither is set. ``where`` names the setting in errors.

    A variable that is not set, or a file that cannot be read, is a ``ValueError`` naming
    the variable or the path — never the value.
    """
    if env:
        value = os.environ.get(env)
        if not value:
            raise ValueError(f"{where}.api_key_env: the environment variable {env!r} is not set "
                             "(or empty)")
        return Secret(value)
    if file:
        try:
            value = Path(file).expanduser().read_text().strip()
        except OSError as exc:
            raise ValueError(f"{where}.api_key_file: cannot read {file!r}: "
                             f"{exc.strerror or type(exc).__name__}") from None
        if not value:
            raise ValueError(f"{where}.api_key_file: {file!r} is empty")
        return Secret(value)
    return None


class Redactor:
    """Replaces every known secret in a text by ``***`` (see module doc)."""

    def __init__(self) -> None:
        self._values: list[str] = []

    def add(self, secret: Secret | None) -> None:
        """Hide ``secret`` from now on (None: nothing to hide)."""
        if secret is not None and secret.value and secret.value not in self._values:
            self._values.append(secret.value)
            self._values.sort(key=len, reverse=True)  # a longer secret first, if one holds another

    def clean(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for value in self._values:
            text = text.replace(value, MASK)
        return text
