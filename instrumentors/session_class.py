"""The framework's session class, under whichever name the installed release gives it.

livekit-agents 2.0 renames ``AgentSession`` to ``LiveSession`` and keeps the old
name one release as an alias that warns (``DeprecationWarning``).  Every patch
of the session (``start``, ``aclose``) and every ``isinstance`` check takes the
class from here: the new name where it exists, the old one only where it does
not, read from the module's own namespace so no alias is ever touched.
"""

from __future__ import annotations

import importlib

SESSION_MODULE = "livekit.agents.voice.agent_session"
_NAMES = ("LiveSession", "AgentSession")


def session_class() -> type:
    """``LiveSession`` (livekit-agents 2.0+), else ``AgentSession``."""
    namespace = vars(importlib.import_module(SESSION_MODULE))
    for name in _NAMES:
        cls = namespace.get(name)
        if isinstance(cls, type):
            return cls
    raise ImportError(f"{SESSION_MODULE} has no session class ({' or '.join(_NAMES)})")
