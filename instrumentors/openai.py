"""OpenAI: the Realtime API websockets, which open without a pool.

The STT (``use_realtime=True``) and the Responses LLM keep their websockets in
a ``ConnectionPool``, timed by the framework aspect.  Usage::

    from opentelemetry.instrumentation.livekit_agents.instrumentors.openai import (
        OpenAIInstrumentor,
    )

    OpenAIInstrumentor().instrument()

or entry point ``livekit_agents_openai`` (``AgentsInstrumentor`` runs it).

From livekit-agents 1.8.3 the Realtime engine lives in core
(``livekit.agents.llm._realtime``) and the plugin module re-exports its
session class; both paths are listed so either import patches it, and the
class is patched once.  Sessions of other plugins built on that engine (xai)
and of LiveKit's hosted inference are timed through the same patch, under
their own provider.
"""

from __future__ import annotations

from opentelemetry.instrumentation.livekit_agents.provider_instrumentor import (
    PatchTarget,
    ProviderInstrumentor,
    timed_connect,
)

_SESSION = timed_connect("_realtime_model")
_LIVE_SESSION = timed_connect("_live_model")

_PLUGIN_REALTIME = "livekit.plugins.openai.realtime"
_CORE_REALTIME = "livekit.agents.llm._realtime"


class OpenAIInstrumentor(ProviderInstrumentor):
    """Times the OpenAI Realtime and GPT-Live session websockets."""

    provider = "openai"
    targets = (
        # plugin location up to 1.8.2, a re-export of the core class from 1.8.3
        PatchTarget(
            f"{_PLUGIN_REALTIME}.realtime_model", "RealtimeSession._create_ws_conn", _SESSION
        ),
        PatchTarget(
            f"{_PLUGIN_REALTIME}.realtime_model_beta",
            "RealtimeSessionBeta._create_ws_conn",
            _SESSION,
        ),
        PatchTarget(f"{_CORE_REALTIME}.openai", "RealtimeSession._create_ws_conn", _SESSION),
        PatchTarget(
            f"{_PLUGIN_REALTIME}.gpt_live_model", "GPTLiveSession._create_ws_conn", _LIVE_SESSION
        ),
        PatchTarget(f"{_CORE_REALTIME}.gpt_live", "GPTLiveSession._create_ws_conn", _LIVE_SESSION),
    )
