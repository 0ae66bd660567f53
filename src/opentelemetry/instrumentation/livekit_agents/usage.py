"""From one component metrics event to the usage counters and GenAI histograms.

The events are the framework's own ``LLMMetrics``, ``RealtimeModelMetrics``,
``TTSMetrics``, ``STTMetrics`` and ``InterruptionMetrics``; they are matched
by class name and read field by field, so a release that lacks a field (or a
metrics class) simply records less.  Zero amounts are not added, as in the
framework's own counters; odd amounts are dropped by the recorder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, NamedTuple

from opentelemetry.context import Context

from opentelemetry.instrumentation.livekit_agents.model_identity import (
    ModelIdentity,
    identify,
    remember,
    with_metadata,
)
from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

CHAT = "chat"
GENERATE_CONTENT = "generate_content"

# The GenAI semantic conventions' provider registry, by plugin package and by
# the host that openai-compatible plugins report as their provider.
_GEN_AI_PROVIDER_BY_KEY = {
    "anthropic": "anthropic",
    "aws": "aws.bedrock",
    "azure": "azure.ai.openai",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "google": "gcp.gemini",
    "groq": "groq",
    "mistralai": "mistral_ai",
    "openai": "openai",
    "perplexity": "perplexity",
    "xai": "x_ai",
}
_GEN_AI_PROVIDER_BY_HOST = {
    "api.anthropic.com": "anthropic",
    "api.deepseek.com": "deepseek",
    "api.groq.com": "groq",
    "api.mistral.ai": "mistral_ai",
    "api.openai.com": "openai",
    "api.perplexity.ai": "perplexity",
    "api.x.ai": "x_ai",
    "generativelanguage.googleapis.com": "gcp.gemini",
}
_GEN_AI_PROVIDER_BY_HOST_SUFFIX = (
    (".openai.azure.com", "azure.ai.openai"),
    (".aiplatform.googleapis.com", "gcp.vertex_ai"),
)


def record_usage(recorder: Recorder, emitter: object, metrics: object, context: Context) -> bool:
    """Record one metrics event that ``emitter`` (a component) emitted in ``context``.

    True when ``metrics`` is usage (whether or not its provider is switched on).
    """
    try:
        handler = _handlers_by_class[type(metrics)]
    except KeyError:
        handler = _handler(type(metrics))
    if handler is None:
        return False  # VAD, EOU, avatar, ... carry no usage
    # The emitting component's identity (a realtime session emits for its model,
    # which holds the model and provider), completed by the event's own metadata.
    identity = identify(getattr(emitter, "_realtime_model", None) or emitter)
    if not identity.complete:  # with_metadata's own first check, spared a call per event
        identity = with_metadata(identity, getattr(metrics, "metadata", None))
    if recorder.allows[identity.provider_key]:
        handler(recorder, identity, metrics, context)
    return True


def gen_ai_provider_name(identity: ModelIdentity) -> str:
    """``gen_ai.provider.name``: the convention's registry value where one fits."""
    host = identity.model_provider.lower()
    if host in _GEN_AI_PROVIDER_BY_HOST:
        return _GEN_AI_PROVIDER_BY_HOST[host]
    for suffix, name in _GEN_AI_PROVIDER_BY_HOST_SUFFIX:
        if host.endswith(suffix):
            return name
    return _GEN_AI_PROVIDER_BY_KEY.get(identity.provider_key, identity.provider_key)


def _llm(recorder: Recorder, identity: ModelIdentity, metrics: Any, context: Context) -> None:
    instruments = recorder.instruments
    attributes = identity.shared_attributes
    input_tokens = getattr(metrics, "prompt_tokens", 0)
    output_tokens = getattr(metrics, "completion_tokens", 0)
    recorder.add(instruments.llm_input_tokens, input_tokens, attributes, context)
    recorder.add(
        instruments.llm_input_cached_tokens,
        getattr(metrics, "prompt_cached_tokens", 0),
        attributes,
        context,
    )
    recorder.add(instruments.llm_output_tokens, output_tokens, attributes, context)
    _gen_ai(recorder, identity, metrics, context, CHAT, input_tokens, output_tokens)


def _realtime(recorder: Recorder, identity: ModelIdentity, metrics: Any, context: Context) -> None:
    instruments = recorder.instruments
    attributes = identity.shared_attributes
    inputs = getattr(metrics, "input_token_details", None)
    outputs = getattr(metrics, "output_token_details", None)
    input_tokens = getattr(metrics, "input_tokens", 0)
    output_tokens = getattr(metrics, "output_tokens", 0)
    amounts = (
        (instruments.llm_input_tokens, input_tokens),
        (instruments.llm_input_cached_tokens, getattr(inputs, "cached_tokens", 0)),
        (instruments.llm_output_tokens, output_tokens),
        (instruments.llm_input_audio_tokens, getattr(inputs, "audio_tokens", 0)),
        (instruments.llm_input_text_tokens, getattr(inputs, "text_tokens", 0)),
        (instruments.llm_output_audio_tokens, getattr(outputs, "audio_tokens", 0)),
        (instruments.llm_output_text_tokens, getattr(outputs, "text_tokens", 0)),
        (instruments.llm_session_duration, getattr(metrics, "session_duration", 0)),
    )
    for counter, amount in amounts:
        recorder.add(counter, amount, attributes, context)
    _gen_ai(recorder, identity, metrics, context, GENERATE_CONTENT, input_tokens, output_tokens)


def _tts(recorder: Recorder, identity: ModelIdentity, metrics: Any, context: Context) -> None:
    attributes = identity.shared_attributes
    instruments = recorder.instruments
    recorder.add(
        instruments.tts_characters, getattr(metrics, "characters_count", 0), attributes, context
    )
    recorder.add(
        instruments.tts_audio_duration,
        getattr(metrics, "audio_duration", 0),
        attributes,
        context,
    )


def _stt(recorder: Recorder, identity: ModelIdentity, metrics: Any, context: Context) -> None:
    recorder.add(
        recorder.instruments.stt_audio_duration,
        getattr(metrics, "audio_duration", 0),
        identity.shared_attributes,
        context,
    )


def _interruption(
    recorder: Recorder, identity: ModelIdentity, metrics: Any, context: Context
) -> None:
    recorder.add(
        recorder.instruments.interruption_num_requests,
        getattr(metrics, "num_requests", 0),
        identity.shared_attributes,
        context,
    )


def _gen_ai(
    recorder: Recorder,
    identity: ModelIdentity,
    metrics: Any,
    context: Context,
    operation: str,
    input_tokens: object,
    output_tokens: object,
) -> None:
    duration = getattr(metrics, "duration", 0)
    if not (input_tokens or output_tokens or duration):
        return  # a connection report (1.5.2+), not an operation
    instruments = recorder.instruments
    attributes = identity.derived(operation, _gen_ai_attributes, operation)
    recorder.record_amount(instruments.gen_ai_token_usage, input_tokens, attributes.input, context)
    recorder.record_amount(
        instruments.gen_ai_token_usage, output_tokens, attributes.output, context
    )
    ttft = getattr(metrics, "ttft", -1)
    if isinstance(ttft, (int, float)) and ttft > 0:  # -1: no first chunk arrived
        recorder.record_seconds(
            instruments.gen_ai_time_to_first_chunk, ttft, attributes.base, context
        )
    if duration:
        cancelled = getattr(metrics, "cancelled", False) is True
        recorder.record_seconds(
            instruments.gen_ai_operation_duration,
            duration,
            attributes.cancelled if cancelled else attributes.base,
            context,
        )


class _GenAIAttributes(NamedTuple):
    """The GenAI attribute sets of one model and operation, built once and shared."""

    base: Mapping[str, str]
    input: Mapping[str, str]
    output: Mapping[str, str]
    cancelled: Mapping[str, str]


def _gen_ai_attributes(identity: ModelIdentity, operation: str) -> _GenAIAttributes:
    base = {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": gen_ai_provider_name(identity),
        "gen_ai.request.model": identity.model_name,
    }
    return _GenAIAttributes(
        base,
        {**base, "gen_ai.token.type": "input"},
        {**base, "gen_ai.token.type": "output"},
        {**base, "error.type": "cancelled"},
    )


_Handler = Callable[[Recorder, ModelIdentity, Any, Context], None]
_handlers_by_class: dict[type, _Handler | None] = {}


def _handler(cls: type) -> _Handler | None:
    """The handler of a metrics class, by its name; remembered per class."""
    return remember(_handlers_by_class, cls, _HANDLERS.get(cls.__name__))


_HANDLERS: dict[str, _Handler] = {
    "LLMMetrics": _llm,
    "RealtimeModelMetrics": _realtime,
    "TTSMetrics": _tts,
    "STTMetrics": _stt,
    "InterruptionMetrics": _interruption,
}
