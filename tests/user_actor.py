"""A user-written actor, loaded by the node from "tests.user_actor:Greeter"."""

import attrs

from actors import Actor, handler
from messages import message


@message("greeter.greet")
class Greet:
    """Ask for a greeting."""

    who: str


@attrs.frozen
class GreeterSettings:
    """How to greet."""

    greeting: str = "hello"


class Greeter(Actor):
    """Greets whoever asks."""

    settings_class = GreeterSettings

    @handler
    def on_greet(self, msg: Greet) -> str:
        return f"{self.context.settings.greeting}, {msg.who}"
