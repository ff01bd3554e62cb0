"""Exit codes by which an actor host process tells its supervisor why it ended.

Any other non-zero code, and death by a signal, is an abnormal exit (a crash).
"""

from typing import Final

EXIT_NORMAL: Final = 0
"""The actor stopped because it was asked to (or stopped itself)."""
EXIT_START_FAILED: Final = 70
"""``on_start`` raised: OTP's start_error."""
EXIT_RESTART_DIRECTIVE: Final = 71
"""A handler raised and the child's ``on_error`` is ``restart``."""
EXIT_STOP_DIRECTIVE: Final = 72
"""A handler raised and the child's ``on_error`` is ``stop``: do not restart."""
EXIT_ESCALATE_DIRECTIVE: Final = 73
"""A handler raised and the child's ``on_error`` is ``escalate``: fail the supervisor."""
EXIT_NODE_GONE: Final = 74
"""The node process died; the host exits rather than live on as an orphan."""
EXIT_HOST_FAULT: Final = 75
"""The actor's serving thread failed outside any handler (receive, dispatch or reply path)
or stopped: the host exits so that its supervisor restarts it."""
