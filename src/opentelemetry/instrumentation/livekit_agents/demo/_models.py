"""The simulated LLM and TTS of :mod:`.simulation`, and what every simulated model shares.

Each subclasses the framework's own base class, so the framework's own machinery
times it and emits its ``metrics_collected`` events; each answers what was queued
on it with ``push_response()``, first in, first out, or its defaults.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from livekit import rtc
from livekit.agents import llm, tts

from opentelemetry.instrumentation.livekit_agents.demo._release import conn_options

# TTS frames of 50 ms: from 1.1 the AudioEmitter holds back the last frame it was
# given until the next one arrives, so big frames would move TTFB onto the tail.
_TTS_FRAME_SECONDS = 0.05


@dataclass(frozen=True)
class _LLMScript:
    text: str
    ttft: float
    prompt_tokens: int
    completion_tokens: int
    prompt_cached_tokens: int


@dataclass(frozen=True)
class _TTSScript:
    ttfb: float
    audio_duration: float | None


class DeclaredModel:
    """The ``model`` and ``provider`` a simulated component declares, as plugins do."""

    _model: str
    _provider: str

    def _declare(self, provider: str, model: str) -> None:
        self._provider = provider
        self._model = model

    @property
    def model(self) -> str:
        return self._model

    @property
    def provider(self) -> str:
        return self._provider


# ------------------------------------------------------------------------------ LLM


class SimulatedLLM(DeclaredModel, llm.LLM[Any]):
    """An ``llm.LLM`` that answers scripted text after a scripted time to first token.

    Each stream sends one content chunk after ``ttft`` and then a usage chunk, so the
    base class's metrics machinery emits an ``LLMMetrics`` with that ``ttft`` and the
    scripted token counts.
    """

    def __init__(
        self,
        provider: str = "simulated",
        model: str = "sim-llm",
        *,
        ttft: float = 0.1,
        default_text: str = "Sure, I can help with that.",
        prompt_tokens: int = 20,
    ) -> None:
        super().__init__()
        self._declare(provider, model)
        self._default = _LLMScript(default_text, ttft, prompt_tokens, len(default_text.split()), 0)
        self._scripts: deque[_LLMScript] = deque()

    def push_response(
        self,
        text: str,
        *,
        ttft: float | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        prompt_cached_tokens: int = 0,
    ) -> None:
        """Queue the answer to the next ``chat()`` call."""
        self._scripts.append(
            _LLMScript(
                text=text,
                ttft=self._default.ttft if ttft is None else ttft,
                prompt_tokens=self._default.prompt_tokens
                if prompt_tokens is None
                else prompt_tokens,
                completion_tokens=len(text.split())
                if completion_tokens is None
                else completion_tokens,
                prompt_cached_tokens=prompt_cached_tokens,
            )
        )

    def chat(self, *args: Any, **kwargs: Any) -> llm.LLMStream:
        script = self._scripts.popleft() if self._scripts else self._default
        return _SimulatedLLMStream(
            self,
            script,
            chat_ctx=kwargs["chat_ctx"],
            tools=kwargs.get("tools") or [],
            conn_options=conn_options(kwargs),
        )


class _SimulatedLLMStream(llm.LLMStream):
    def __init__(self, owner: SimulatedLLM, script: _LLMScript, **kwargs: Any) -> None:
        super().__init__(owner, **kwargs)
        self._script = script

    async def _run(self) -> None:
        script = self._script
        request_id = f"simllm_{uuid.uuid4().hex[:12]}"
        await asyncio.sleep(script.ttft)
        delta = llm.ChoiceDelta(role="assistant", content=script.text)
        self._event_ch.send_nowait(llm.ChatChunk(id=request_id, delta=delta))
        usage = llm.CompletionUsage(
            completion_tokens=script.completion_tokens,
            prompt_tokens=script.prompt_tokens,
            prompt_cached_tokens=script.prompt_cached_tokens,
            total_tokens=script.completion_tokens + script.prompt_tokens,
        )
        self._event_ch.send_nowait(llm.ChatChunk(id=request_id, usage=usage))


# ------------------------------------------------------------------------------ TTS


class SimulatedTTS(DeclaredModel, tts.TTS[Any]):
    """A non-streaming ``tts.TTS`` that returns scripted audio after a scripted TTFB.

    The framework wraps it in ``tts.StreamAdapter`` (one ``synthesize()`` per
    sentence). The base class's metrics machinery emits one ``TTSMetrics`` per
    call with ``ttfb``, ``characters_count=len(text)`` and ``audio_duration``.
    """

    def __init__(
        self,
        provider: str = "simulated",
        model: str = "sim-tts",
        *,
        ttfb: float = 0.1,
        seconds_per_char: float = 0.02,
        sample_rate: int = 24000,
    ) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=sample_rate,
            num_channels=1,
        )
        self._declare(provider, model)
        self._ttfb = ttfb
        self._seconds_per_char = seconds_per_char
        self._scripts: deque[_TTSScript] = deque()

    def push_response(
        self, *, ttfb: float | None = None, audio_duration: float | None = None
    ) -> None:
        """Queue the timing and audio length of the next ``synthesize()`` call."""
        self._scripts.append(_TTSScript(self._ttfb if ttfb is None else ttfb, audio_duration))

    def audio_duration_for(self, text: str, audio_duration: float | None = None) -> float:
        """The audio seconds this TTS produces for ``text``: whole 50 ms frames."""
        wanted = len(text) * self._seconds_per_char if audio_duration is None else audio_duration
        frames = max(1, math.ceil(round(wanted / _TTS_FRAME_SECONDS, 6)))
        return frames * self._frame_samples / self.sample_rate

    @property
    def _frame_samples(self) -> int:
        return int(self.sample_rate * _TTS_FRAME_SECONDS)

    def synthesize(self, text: str, *args: Any, **kwargs: Any) -> tts.ChunkedStream:
        script = self._scripts.popleft() if self._scripts else _TTSScript(self._ttfb, None)
        return _SimulatedChunkedStream(
            self, script, input_text=text, conn_options=conn_options(kwargs)
        )


class _SimulatedChunkedStream(tts.ChunkedStream):
    def __init__(self, owner: SimulatedTTS, script: _TTSScript, **kwargs: Any) -> None:
        super().__init__(tts=owner, **kwargs)
        self._owner = owner
        self._script = script

    async def _run(self, *args: Any, **kwargs: Any) -> None:
        # 1.0.x calls _run(); from 1.1 the base passes an AudioEmitter.
        emitter = args[0] if args else kwargs.get("output_emitter")
        owner = self._owner
        request_id = f"simtts_{uuid.uuid4().hex[:12]}"
        duration = owner.audio_duration_for(self.input_text, self._script.audio_duration)
        n_frames = round(duration / _TTS_FRAME_SECONDS)
        frame_bytes = b"\x00\x00" * owner._frame_samples
        await asyncio.sleep(self._script.ttfb)
        if emitter is None:
            self._send_legacy_frames(request_id, frame_bytes, n_frames)
            return
        emitter.initialize(
            request_id=request_id,
            sample_rate=owner.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
            frame_size_ms=int(_TTS_FRAME_SECONDS * 1000),
        )
        # all at once, no flush(): the emitter then marks the last frame final itself
        # instead of adding a 10 ms end marker that would count as audio
        emitter.push(frame_bytes * n_frames)

    def _send_legacy_frames(self, request_id: str, frame_bytes: bytes, n_frames: int) -> None:
        samples = self._owner._frame_samples
        for i in range(n_frames):
            frame = rtc.AudioFrame(frame_bytes, self._owner.sample_rate, 1, samples)
            audio = tts.SynthesizedAudio(
                frame=frame, request_id=request_id, is_final=i == n_frames - 1
            )
            self._event_ch.send_nowait(audio)
