"""What the installed livekit-agents release offers the simulation, detected at run time.

The components work on every release from 1.0.23 on; where the framework's contract
changed, they ask here instead of comparing version numbers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def accepts(func: Callable[..., Any], name: str) -> bool:
    """Whether ``func`` takes a parameter called ``name`` (feature detection)."""
    try:
        return name in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def conn_options(kwargs: dict[str, Any]) -> Any:
    """The caller's ``conn_options`` or the framework's default for this release."""
    from livekit.agents import DEFAULT_API_CONNECT_OPTIONS

    return kwargs.get("conn_options") or DEFAULT_API_CONNECT_OPTIONS


def session_class() -> Any:
    """The framework's session class: ``LiveSession`` (2.0+), else ``AgentSession``.

    2.0 keeps ``AgentSession`` only as a deprecated alias that warns when it is read,
    so it is read only where ``LiveSession`` does not exist.
    """
    import livekit.agents as agents

    live_session = getattr(agents, "LiveSession", None)
    return live_session if live_session is not None else agents.AgentSession


def session_options(
    *,
    min_endpointing_delay: float = 0.2,
    max_endpointing_delay: float = 3.0,
    allow_interruptions: bool = True,
    min_interruption_duration: float = 0.3,
) -> dict[str, Any]:
    """Session keyword arguments that make a simulated session deterministic.

    VAD turn detection with a fixed endpointing delay, VAD (not adaptive, which needs
    LiveKit inference) interruptions, no false-interruption resume, no preemptive
    generation, no echo-cancellation warm-up (1.4+ disables interruptions during
    it) and no user-away timer. Uses ``turn_handling`` where the release has it
    (1.5+) and the older keyword arguments elsewhere.
    """
    init = session_class().__init__
    opts: dict[str, Any] = {}
    if accepts(init, "turn_handling"):
        opts["turn_handling"] = {
            "turn_detection": "vad",
            "endpointing": {
                "mode": "fixed",
                "min_delay": min_endpointing_delay,
                "max_delay": max_endpointing_delay,
            },
            "interruption": {
                "enabled": allow_interruptions,
                "mode": "vad",
                "min_duration": min_interruption_duration,
                "resume_false_interruption": False,
                "false_interruption_timeout": None,
            },
            "preemptive_generation": {"enabled": False},
        }
    else:
        opts.update(
            turn_detection="vad",
            min_endpointing_delay=min_endpointing_delay,
            max_endpointing_delay=max_endpointing_delay,
            allow_interruptions=allow_interruptions,
            min_interruption_duration=min_interruption_duration,
        )
        optional = {
            "preemptive_generation": False,
            "resume_false_interruption": False,
            "false_interruption_timeout": None,
        }
        opts.update({k: v for k, v in optional.items() if accepts(init, k)})
    if accepts(init, "aec_warmup_duration"):
        opts["aec_warmup_duration"] = None
    if accepts(init, "user_away_timeout"):
        opts["user_away_timeout"] = None
    return opts
