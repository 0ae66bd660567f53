"""The framework's own metrics events, built the same way on every release."""

from __future__ import annotations

import time
from typing import Any

from livekit.agents.metrics import LLMMetrics, STTMetrics, TTSMetrics


def build(cls: Any, **values: Any) -> Any:
    """``cls(**values)`` keeping only the fields this release's class has."""
    known = set(cls.model_fields)
    return cls(**{k: v for k, v in values.items() if k in known})


def llm_metrics(prompt: int, completion: int, cached: int = 0, **extra: Any) -> LLMMetrics:
    values = {
        "label": "scripted-llm",
        "request_id": "req",
        "timestamp": time.time(),
        "duration": 0.8,
        "ttft": 0.2,
        "cancelled": False,
        "completion_tokens": completion,
        "prompt_tokens": prompt,
        "prompt_cached_tokens": cached,
        "total_tokens": prompt + completion,
        "tokens_per_second": 10.0,
    }
    return build(LLMMetrics, **{**values, **extra})  # type: ignore[no-any-return]


def tts_metrics(characters: int, audio_duration: float, **extra: Any) -> TTSMetrics:
    values = {
        "label": "scripted-tts",
        "request_id": "req",
        "timestamp": time.time(),
        "ttfb": 0.1,
        "duration": 0.5,
        "audio_duration": audio_duration,
        "cancelled": False,
        "characters_count": characters,
        "streamed": False,
    }
    return build(TTSMetrics, **{**values, **extra})  # type: ignore[no-any-return]


def stt_metrics(audio_duration: float, **extra: Any) -> STTMetrics:
    values = {
        "label": "scripted-stt",
        "request_id": "req",
        "timestamp": time.time(),
        "duration": 0.0,
        "audio_duration": audio_duration,
        "streamed": True,
    }
    return build(STTMetrics, **{**values, **extra})  # type: ignore[no-any-return]
