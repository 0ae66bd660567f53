"""The GenAI semantic conventions' client metrics of one LLM or realtime usage event.

``gen_ai.client.token.usage``, ``gen_ai.client.operation.duration`` and
``gen_ai.client.operation.time_to_first_chunk``, from the same events as the
usage counters (:mod:`.usage`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from opentelemetry.context import Context

from opentelemetry.instrumentation.livekit_agents.instruments import (
    ERROR_TYPE,
    GEN_AI_KEYS,
    GEN_AI_TOKEN_KEYS,
    attribute_set,
)
from opentelemetry.instrumentation.livekit_agents.model_identity import ModelIdentity
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


def gen_ai_provider_name(identity: ModelIdentity) -> str:
    """``gen_ai.provider.name``: the convention's registry value where one fits."""
    host = identity.model_provider.lower()
    if host in _GEN_AI_PROVIDER_BY_HOST:
        return _GEN_AI_PROVIDER_BY_HOST[host]
    for suffix, name in _GEN_AI_PROVIDER_BY_HOST_SUFFIX:
        if host.endswith(suffix):
            return name
    return _GEN_AI_PROVIDER_BY_KEY.get(identity.provider_key, identity.provider_key)


def record_gen_ai(
    recorder: Recorder,
    identity: ModelIdentity,
    metrics: Any,
    context: Context,
    operation: str,
    input_tokens: object,
    output_tokens: object,
) -> None:
    """The GenAI points of one ``operation`` (``chat``, ``generate_content``)."""
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
    values = (operation, gen_ai_provider_name(identity), identity.model_name)
    return _GenAIAttributes(
        attribute_set(GEN_AI_KEYS, *values),
        attribute_set(GEN_AI_TOKEN_KEYS, *values, "input"),
        attribute_set(GEN_AI_TOKEN_KEYS, *values, "output"),
        {**attribute_set(GEN_AI_KEYS, *values), ERROR_TYPE: "cancelled"},
    )
