"""The OpenAI-protocol realtime engine's session websockets, for every provider on it.

The openai plugin's ``RealtimeSession`` (and, from livekit-agents 1.8.3, the
core engine in ``livekit.agents.llm._realtime``, which the plugin re-exports)
opens its websocket in ``_create_ws_conn``.  The xai and ThunderPhone realtime
models and LiveKit Inference's hosted realtime run on that engine too, so the
patch is the framework's, not the openai provider's: it is applied whichever
providers are allowed, and each point is switched by the provider it is
attributed to (``xai``, ``thunderphone``, ``livekit``, ``openai``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.acquisition import (
    Wrapper,
    acquire_wrapper,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.hooked_patches import (
    HookedPatches,
    HookedTarget,
)
from opentelemetry.instrumentation.livekit_agents.model_identity import ModelIdentity, identify

if TYPE_CHECKING:
    from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

_PLUGIN = "livekit.plugins.openai.realtime"
_CORE = "livekit.agents.llm._realtime"


def _session_connect(model_attribute: str) -> Callable[[Recorder], Wrapper]:
    def identity_of(session: Any) -> ModelIdentity:
        return identify(getattr(session, model_attribute, None) or session)

    def factory(recorder: Recorder) -> Wrapper:
        return acquire_wrapper(recorder, identity_of, may_reuse=False)

    return factory


_SESSION = _session_connect("_realtime_model")
_LIVE_SESSION = _session_connect("_live_model")


def realtime_engine_timing() -> HookedPatches:
    """The aspect timing the engine's session websockets, at both of its homes."""
    return HookedPatches(
        [
            # the plugin's own classes up to 1.8.2, re-exports of the core ones from 1.8.3
            HookedTarget(f"{_PLUGIN}.realtime_model", "RealtimeSession._create_ws_conn", _SESSION),
            HookedTarget(
                f"{_PLUGIN}.realtime_model_beta", "RealtimeSessionBeta._create_ws_conn", _SESSION
            ),
            HookedTarget(f"{_CORE}.openai", "RealtimeSession._create_ws_conn", _SESSION),
            HookedTarget(
                f"{_PLUGIN}.gpt_live_model", "GPTLiveSession._create_ws_conn", _LIVE_SESSION
            ),
            HookedTarget(f"{_CORE}.gpt_live", "GPTLiveSession._create_ws_conn", _LIVE_SESSION),
        ]
    )
