"""The metric catalogue: every instrument this package records, in one place.

Names, units and attributes are public interface (dashboards are built on
them); they match the framework's own ``lk.agents.*`` metrics (livekit-agents
1.5.2+) and the OpenTelemetry GenAI semantic conventions.  Every histogram
carries explicit bucket advice so that latencies in seconds do not all land
in the SDK's default millisecond-sized buckets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

from opentelemetry.metrics import Counter, Histogram, Meter

# Conversational latencies: a good voice agent answers in 0.5-1.5 s, a bad one
# in several seconds; resolution matters most below 2 s.
TURN_LATENCY_BUCKETS: tuple[float, ...] = (
    0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.25, 1.5, 1.75,
    2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0,
)  # fmt: skip
# Connection acquisition spans a reused socket (microseconds) to a cold TLS
# websocket handshake on a slow network (seconds).
ACQUIRE_TIME_BUCKETS: tuple[float, ...] = (
    0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1,
    0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
# The GenAI semantic conventions' recommended boundaries.
GEN_AI_DURATION_BUCKETS: tuple[float, ...] = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
GEN_AI_TIME_TO_FIRST_CHUNK_BUCKETS: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
GEN_AI_TOKEN_USAGE_BUCKETS: tuple[float, ...] = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip

# The attribute keys, and the sets of them that data points carry.
MODEL_NAME = "model_name"
MODEL_PROVIDER = "model_provider"
CONNECTION_REUSED = "connection_reused"
ERROR_TYPE = "error.type"
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"

MODEL_KEYS: tuple[str, ...] = (MODEL_NAME, MODEL_PROVIDER)
"""The model attributes, named as in the framework's own metrics."""
ACQUIRE_KEYS: tuple[str, ...] = (*MODEL_KEYS, CONNECTION_REUSED)
GEN_AI_KEYS: tuple[str, ...] = (GEN_AI_OPERATION_NAME, GEN_AI_PROVIDER_NAME, GEN_AI_REQUEST_MODEL)
GEN_AI_TOKEN_KEYS: tuple[str, ...] = (*GEN_AI_KEYS, GEN_AI_TOKEN_TYPE)


def attribute_set(keys: Sequence[str], *values: str) -> dict[str, str]:
    """The attributes ``keys`` with ``values`` in order, in a new dict: the one
    builder of every attribute set a data point carries."""
    if len(keys) != len(values):
        raise ValueError(f"{len(values)} values for the keys {keys}")
    return dict(zip(keys, values))


@dataclass(frozen=True)
class HistogramSpec:
    """A histogram of the catalogue."""

    name: str
    unit: str
    description: str
    buckets: Sequence[float]
    attributes: tuple[str, ...]
    """The keys every data point carries."""
    optional_attributes: tuple[str, ...] = ()
    """The keys some data points add (``error.type`` on a failure)."""
    kind: Literal["histogram"] = "histogram"


@dataclass(frozen=True)
class CounterSpec:
    """A counter of the catalogue."""

    name: str
    unit: str
    description: str
    attributes: tuple[str, ...]
    """The keys every data point carries."""
    optional_attributes: tuple[str, ...] = ()
    kind: Literal["counter"] = "counter"


def _turn(name: str, description: str) -> HistogramSpec:
    return HistogramSpec(
        f"lk.agents.turn.{name}", "s", description, TURN_LATENCY_BUCKETS, MODEL_KEYS
    )


def _usage(name: str, unit: str, description: str) -> CounterSpec:
    return CounterSpec(f"lk.agents.usage.{name}", unit, description, MODEL_KEYS)


TURN_E2E_LATENCY = _turn("e2e_latency", "User stopped speaking to agent audio started")
TURN_LLM_TTFT = _turn("llm_ttft", "LLM time to first token of an agent reply")
TURN_TTS_TTFB = _turn("tts_ttfb", "TTS time to first audio byte of an agent reply")
TURN_TRANSCRIPTION_DELAY = _turn("transcription_delay", "End of user speech to final transcript")
TURN_END_OF_TURN_DELAY = _turn("end_of_turn_delay", "End of user speech to end of turn decision")
TURN_ON_USER_TURN_COMPLETED_DELAY = _turn(
    "on_user_turn_completed_delay", "Time spent in the agent's on_user_turn_completed callback"
)

LLM_INPUT_TOKENS = _usage("llm_input_tokens", "{token}", "LLM input tokens")
LLM_INPUT_CACHED_TOKENS = _usage("llm_input_cached_tokens", "{token}", "LLM cached input tokens")
LLM_OUTPUT_TOKENS = _usage("llm_output_tokens", "{token}", "LLM output tokens")
LLM_INPUT_AUDIO_TOKENS = _usage("llm_input_audio_tokens", "{token}", "Realtime input audio tokens")
LLM_INPUT_TEXT_TOKENS = _usage("llm_input_text_tokens", "{token}", "Realtime input text tokens")
LLM_OUTPUT_AUDIO_TOKENS = _usage(
    "llm_output_audio_tokens", "{token}", "Realtime output audio tokens"
)
LLM_OUTPUT_TEXT_TOKENS = _usage("llm_output_text_tokens", "{token}", "Realtime output text tokens")
LLM_SESSION_DURATION = _usage("llm_session_duration", "s", "Realtime session duration")
TTS_CHARACTERS = _usage("tts_characters", "{character}", "Characters sent to TTS")
TTS_AUDIO_DURATION = _usage("tts_audio_duration", "s", "Audio produced by TTS")
STT_AUDIO_DURATION = _usage("stt_audio_duration", "s", "Audio sent to STT")
INTERRUPTION_NUM_REQUESTS = _usage(
    "interruption_num_requests", "{request}", "Requests made by the interruption detector"
)

CONNECTION_ACQUIRE_TIME = HistogramSpec(
    "lk.agents.connection.acquire_time",
    "s",
    "Time to get a connection to a model provider, reused connections included",
    ACQUIRE_TIME_BUCKETS,
    ACQUIRE_KEYS,
    (ERROR_TYPE,),
)

GEN_AI_TOKEN_USAGE = HistogramSpec(
    "gen_ai.client.token.usage", "{token}", "Number of input and output tokens used",
    GEN_AI_TOKEN_USAGE_BUCKETS, GEN_AI_TOKEN_KEYS,
)  # fmt: skip
GEN_AI_OPERATION_DURATION = HistogramSpec(
    "gen_ai.client.operation.duration", "s", "GenAI operation duration",
    GEN_AI_DURATION_BUCKETS, GEN_AI_KEYS, (ERROR_TYPE,),
)  # fmt: skip
GEN_AI_TIME_TO_FIRST_CHUNK = HistogramSpec(
    "gen_ai.client.operation.time_to_first_chunk",
    "s",
    "Time to receive the first chunk of a streamed response",
    GEN_AI_TIME_TO_FIRST_CHUNK_BUCKETS,
    GEN_AI_KEYS,
)


def _histogram(meter: Meter, spec: HistogramSpec) -> Histogram:
    try:
        return meter.create_histogram(
            spec.name,
            unit=spec.unit,
            description=spec.description,
            explicit_bucket_boundaries_advisory=list(spec.buckets),
        )
    except TypeError:  # an API older than 1.23 takes no bucket advice
        return meter.create_histogram(spec.name, unit=spec.unit, description=spec.description)


def _counter(meter: Meter, spec: CounterSpec) -> Counter:
    return meter.create_counter(spec.name, unit=spec.unit, description=spec.description)


class Instruments:
    """Every instrument of the catalogue, created once from one meter."""

    def __init__(self, meter: Meter) -> None:
        histogram = partial(_histogram, meter)
        counter = partial(_counter, meter)

        self.turn_e2e_latency = histogram(TURN_E2E_LATENCY)
        self.turn_llm_ttft = histogram(TURN_LLM_TTFT)
        self.turn_tts_ttfb = histogram(TURN_TTS_TTFB)
        self.turn_transcription_delay = histogram(TURN_TRANSCRIPTION_DELAY)
        self.turn_end_of_turn_delay = histogram(TURN_END_OF_TURN_DELAY)
        self.turn_on_user_turn_completed_delay = histogram(TURN_ON_USER_TURN_COMPLETED_DELAY)

        self.llm_input_tokens = counter(LLM_INPUT_TOKENS)
        self.llm_input_cached_tokens = counter(LLM_INPUT_CACHED_TOKENS)
        self.llm_output_tokens = counter(LLM_OUTPUT_TOKENS)
        self.llm_input_audio_tokens = counter(LLM_INPUT_AUDIO_TOKENS)
        self.llm_input_text_tokens = counter(LLM_INPUT_TEXT_TOKENS)
        self.llm_output_audio_tokens = counter(LLM_OUTPUT_AUDIO_TOKENS)
        self.llm_output_text_tokens = counter(LLM_OUTPUT_TEXT_TOKENS)
        self.llm_session_duration = counter(LLM_SESSION_DURATION)
        self.tts_characters = counter(TTS_CHARACTERS)
        self.tts_audio_duration = counter(TTS_AUDIO_DURATION)
        self.stt_audio_duration = counter(STT_AUDIO_DURATION)
        self.interruption_num_requests = counter(INTERRUPTION_NUM_REQUESTS)

        self.connection_acquire_time = histogram(CONNECTION_ACQUIRE_TIME)

        self.gen_ai_token_usage = histogram(GEN_AI_TOKEN_USAGE)
        self.gen_ai_operation_duration = histogram(GEN_AI_OPERATION_DURATION)
        self.gen_ai_time_to_first_chunk = histogram(GEN_AI_TIME_TO_FIRST_CHUNK)


CATALOGUE: tuple[HistogramSpec | CounterSpec, ...] = (
    TURN_E2E_LATENCY, TURN_LLM_TTFT, TURN_TTS_TTFB, TURN_TRANSCRIPTION_DELAY,
    TURN_END_OF_TURN_DELAY, TURN_ON_USER_TURN_COMPLETED_DELAY,
    LLM_INPUT_TOKENS, LLM_INPUT_CACHED_TOKENS, LLM_OUTPUT_TOKENS, LLM_INPUT_AUDIO_TOKENS,
    LLM_INPUT_TEXT_TOKENS, LLM_OUTPUT_AUDIO_TOKENS, LLM_OUTPUT_TEXT_TOKENS,
    LLM_SESSION_DURATION, TTS_CHARACTERS, TTS_AUDIO_DURATION, STT_AUDIO_DURATION,
    INTERRUPTION_NUM_REQUESTS, CONNECTION_ACQUIRE_TIME,
    GEN_AI_TOKEN_USAGE, GEN_AI_OPERATION_DURATION, GEN_AI_TIME_TO_FIRST_CHUNK,
)  # fmt: skip
"""Every metric of the catalogue: turns, usage, connections, GenAI (the order of
the table in docs/metrics.md)."""

BY_NAME: dict[str, HistogramSpec | CounterSpec] = {spec.name: spec for spec in CATALOGUE}
"""The catalogue by metric name."""

ATTRIBUTE_KEYS: frozenset[str] = frozenset(
    key for spec in CATALOGUE for key in (*spec.attributes, *spec.optional_attributes)
)
"""Every attribute key a data point of this package may carry."""
