"""A scripted realtime model and session, subclasses of the framework's own.

The session emits ``RealtimeModelMetrics`` the way the realtime plugins do
when a response is done.  Abstract methods (their set differs between
releases) become no-ops: nothing but the metrics path is exercised.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from livekit.agents import llm
from livekit.agents.metrics import RealtimeModelMetrics

from .metrics_events import build as _fields


def _concrete(base: type, name: str, namespace: dict[str, Any]) -> type:
    def noop(*args: Any, **kwargs: Any) -> None:
        return None

    missing = {m: noop for m in getattr(base, "__abstractmethods__", ()) if m not in namespace}
    return type(name, (base,), {**missing, **namespace})


def _capabilities() -> llm.RealtimeCapabilities:
    fields = dataclasses.fields(llm.RealtimeCapabilities)
    return llm.RealtimeCapabilities(**{f.name: False for f in fields})


def _model_init(self: Any, model: str, provider: str) -> None:
    llm.RealtimeModel.__init__(self, capabilities=_capabilities())
    self._scripted = (model, provider)


def _session(self: Any) -> Any:
    return ScriptedRealtimeSession(self)


ScriptedRealtimeModel: Any = _concrete(
    llm.RealtimeModel,
    "ScriptedRealtimeModel",
    {
        "__init__": _model_init,
        "model": property(lambda self: self._scripted[0]),
        "provider": property(lambda self: self._scripted[1]),
        "session": _session,
    },
)
ScriptedRealtimeSession: Any = _concrete(llm.RealtimeSession, "ScriptedRealtimeSession", {})


def realtime_metrics(
    *,
    input_audio: int,
    input_text: int,
    cached: int,
    output_audio: int,
    output_text: int,
    duration: float = 1.5,
    ttft: float = 0.3,
    session_duration: float = 0.0,
) -> RealtimeModelMetrics:
    """A response-done event with these token details, for any release."""
    details = RealtimeModelMetrics
    input_details = _fields(
        details.InputTokenDetails,
        audio_tokens=input_audio,
        text_tokens=input_text,
        image_tokens=0,
        cached_tokens=cached,
        cached_tokens_details=None,
    )
    output_details = _fields(
        details.OutputTokenDetails,
        text_tokens=output_text,
        audio_tokens=output_audio,
        image_tokens=0,
    )
    return _fields(
        RealtimeModelMetrics,
        label="scripted-realtime",
        request_id="resp_1",
        timestamp=time.time(),
        duration=duration,
        ttft=ttft,
        cancelled=False,
        input_tokens=input_audio + input_text,
        output_tokens=output_audio + output_text,
        total_tokens=input_audio + input_text + output_audio + output_text,
        tokens_per_second=10.0,
        input_token_details=input_details,
        output_token_details=output_details,
        session_duration=session_duration,
    )
