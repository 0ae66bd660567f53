"""One acquisition where a plugin loops over its pool to discard stale sockets.

The assemblyai TTS (``TTS._acquire``) and the openai Responses LLM
(``_ResponsesWebsocket._acquire_and_send``, which also sends the request on the
socket it got) ask the pool again when a reused socket turns out closed.  Each
``pool.get`` alone would be a point, so a stale reused socket followed by a new
one would read as two acquisitions, one of them reused: the loop is timed as the
one acquisition instead (the pool calls inside it are not recorded), new when a
connect happened in it, and its time is the whole wait.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.acquisition import (
    Wrapper,
    acquire_wrapper,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.hooked_patches import (
    HookedPatches,
    HookedTarget,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.owners import (
    component_of,
)
from opentelemetry.instrumentation.livekit_agents.model_identity import ModelIdentity, identify

if TYPE_CHECKING:
    from opentelemetry.instrumentation.livekit_agents.recorder import Recorder


def _owner_identity(instance: Any) -> ModelIdentity:
    return identify(component_of(instance))


def _retry_loop(recorder: Recorder) -> Wrapper:
    return acquire_wrapper(recorder, _owner_identity, may_reuse=True)


def retry_loop_timing() -> HookedPatches:
    """The aspect timing each retry loop as one acquisition."""
    return HookedPatches(
        [
            HookedTarget("livekit.plugins.assemblyai.tts", "TTS._acquire", _retry_loop),
            HookedTarget(
                "livekit.plugins.openai.responses.llm",
                "_ResponsesWebsocket._acquire_and_send",
                _retry_loop,
            ),
        ]
    )
