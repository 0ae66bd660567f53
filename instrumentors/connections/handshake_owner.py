"""Which model component a connection belongs to: the code that opened it.

A connection is attributed to the innermost calling frame whose ``self`` is an
STT, TTS, LLM or realtime component, or one of their streams or sessions (then
to the component that owns it).  Where the connection opens in a task of its own
(``asyncio.wait_for`` up to Python 3.11, a connect task a plugin starts and
awaits), the task that awaits it is searched the same way, through the done
callbacks that will wake it.  Anything else (the worker's connection to the
LiveKit server) belongs to no component.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from types import CodeType, FrameType
from typing import Any

from opentelemetry.instrumentation.livekit_agents.model_identity import remember

_logger = logging.getLogger(__name__)

COMPONENT_CLASSES = (
    ("livekit.agents.stt", ("STT", "RecognizeStream", "SpeechStream")),
    ("livekit.agents.tts", ("TTS", "SynthesizeStream", "ChunkedStream")),
    ("livekit.agents.llm", ("LLM", "LLMStream", "RealtimeModel", "RealtimeSession")),
    ("livekit.agents.llm.duplex", ("DuplexModel", "DuplexSession")),
)
"""The framework's component base classes; those a release lacks are skipped."""

OWNER_ATTRIBUTES = ("_stt", "_tts", "_llm", "_realtime_model", "_live_model")
"""Where a stream or session keeps the component it belongs to."""

MAX_DEPTH = 64
"""Frames searched for a component; the plugin's own frames sit within a few of the call."""


def component_classes() -> tuple[type, ...]:
    """The component base classes of the installed livekit-agents release."""
    found: list[type] = []
    for module_name, names in COMPONENT_CLASSES:
        try:
            module = __import__(module_name, fromlist=["_"])
        except ImportError:
            continue
        found.extend(cls for cls in (getattr(module, name, None) for name in names) if cls)
    return tuple(dict.fromkeys(found))


_method_codes: dict[int, tuple[CodeType, bool]] = {}
"""Per code object (by id: hashing a code object hashes its bytecode; the entry keeps
the code alive, so the id is not reused): may its ``self`` be a component?  A method's
``self`` is an instance of its class, so the first answer holds; reading ``f_locals``
(a dict built per call on 3.11) is then needed only for the component's own methods."""


_LOOP_ENTRY = asyncio.events.Handle._run.__code__
"""Where the event loop runs a task's step: no frame beyond it belongs to the task."""


def calling_component(frame: FrameType | None, classes: tuple[type, ...]) -> object | None:
    """The innermost ``self`` among the calling frames that is a model component."""
    depth = 0
    while frame is not None and depth < MAX_DEPTH:
        code = frame.f_code
        if code is _LOOP_ENTRY:
            return None
        entry = _method_codes.get(id(code))
        if entry is not None and entry[0] is code:
            known = entry[1]
        else:
            known = bool(code.co_argcount) and code.co_varnames[0] == "self"
            if known:
                known = isinstance(frame.f_locals.get("self"), classes)
            remember(_method_codes, id(code), (code, known))
        if known:
            candidate = frame.f_locals.get("self")
            if isinstance(candidate, classes):
                return candidate
        frame = frame.f_back
        depth += 1
    return None


MAX_HOPS = 32
"""Futures and callbacks followed from a task to the task awaiting it."""


def _waited_by(callback: object) -> list[asyncio.Future[Any]]:
    """What a done callback hands the result on to: a task's wake-up method's task, a
    ``partial``'s future arguments (``wait_for``'s waiter), a closure's futures
    (``shield``'s outer future, ``gather``'s)."""
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Future):
        return [owner]
    if isinstance(callback, functools.partial):
        return [a for a in callback.args if isinstance(a, asyncio.Future)]
    cells = getattr(callback, "__closure__", None) or ()
    found: list[asyncio.Future[Any]] = []
    for cell in cells:
        with contextlib.suppress(ValueError):  # an empty cell
            if isinstance(cell.cell_contents, asyncio.Future):
                found.append(cell.cell_contents)
    return found


def task_component(task: asyncio.Task[Any], classes: tuple[type, ...]) -> object | None:
    """The innermost component among a suspended task's coroutine frames.

    ``Task.get_stack`` gives only the outermost coroutine's frame of a suspended task,
    so the chain of awaited coroutines is followed here (``cr_await``)."""
    found = None
    awaited: Any = task.get_coro()
    for _ in range(MAX_DEPTH):
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:  # awaiting a future, or finished
            break
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, classes):
            found = candidate
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return found


def awaiting_component(classes: tuple[type, ...]) -> object | None:
    """The component whose task waits for the current one, for a handshake that runs in
    a task of its own: ``asyncio.wait_for`` runs its coroutine in a new task up to
    Python 3.11, and plugins start their connect in a task they then await (through
    ``shield``).  No calling frame of such a task reaches the component; the chain of
    done callbacks from the task to the task that awaits it does."""
    try:
        current = asyncio.current_task()
    except RuntimeError:  # no running loop
        return None
    pending: list[object] = [current] if current is not None else []
    seen: set[int] = set()
    while pending and len(seen) < MAX_HOPS:
        future = pending.pop(0)
        if id(future) in seen or not isinstance(future, asyncio.Future):
            continue
        seen.add(id(future))
        if isinstance(future, asyncio.Task) and future is not current:
            component = task_component(future, classes)
            if component is not None:
                return component
        for callback, _ in getattr(future, "_callbacks", None) or ():
            pending.extend(_waited_by(callback))
    return None


def component_of_handshake(frame: FrameType | None, classes: tuple[type, ...]) -> object | None:
    """The component a handshake made from ``frame`` belongs to: a calling frame's, else
    that of the task awaiting this one."""
    component = calling_component(frame, classes)
    if component is None:
        try:
            component = awaiting_component(classes)
        except Exception:  # an unusual future or loop: the handshake stays unattributed
            _logger.debug("livekit-agents instrumentation: no awaiting task", exc_info=True)
    return component


def owning_component(candidate: object) -> object:
    """The component a stream or session belongs to, else the candidate itself."""
    for name in OWNER_ATTRIBUTES:
        owner = getattr(candidate, name, None)
        if owner is not None:
            return owner
    return candidate
