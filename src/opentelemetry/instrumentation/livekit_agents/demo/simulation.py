"""Scripted components that drive a real ``livekit.agents.AgentSession`` in-process.

No network, no API keys and no LiveKit server are needed: every component subclasses
the framework's own base class (``stt.STT``, ``llm.LLM``, ``tts.TTS``, ``vad.VAD``,
``io.AudioInput``, ``io.AudioOutput``), so the framework's own machinery measures the
turns and emits ``metrics_collected`` (``STTMetrics``, ``EOUMetrics``, ``LLMMetrics``,
``TTSMetrics``) and, from livekit-agents 1.3.1, ``ChatMessage.metrics``. Every delay
and every usage figure is scripted, so the values the framework reports are known in
advance. The components work on every livekit-agents release from 1.0.23 to 1.8.9.

How a scripted turn flows:

1. :class:`SimulatedAudioInput` produces real-time paced audio frames, silent
   except while :meth:`SimulatedAudioInput.speak` plays "speech" (a square wave).
2. :class:`SimulatedVAD` is an energy detector over those frames: START_OF_SPEECH,
   INFERENCE_DONE for every frame, END_OF_SPEECH after ``min_silence_duration``.
3. :class:`SimulatedSTT` detects the end of the utterance in the same frames and,
   after the scripted transcription delay, emits the final transcript and a
   RECOGNITION_USAGE event carrying the utterance's audio duration.
4. The framework detects the end of the turn and calls :class:`SimulatedLLM`, which
   answers after the scripted time to first token, with a usage chunk.
5. :class:`SimulatedTTS` returns the scripted audio after the scripted time to first
   byte, and :class:`SimulatedAudioOutput` "plays" it in real time.

Example::

    from livekit.agents import Agent
    from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim

    async def main() -> None:
        session = sim.simulated_session(llm=sim.SimulatedLLM("acme", "acme-chat"))
        await session.start(Agent(instructions="You are a test agent."))
        records = await sim.run_conversation(
            session,
            [
                sim.UserTurn("Hello there.", transcription_delay=0.1,
                             reply=sim.AgentReply("Hi! How can I help?", llm_ttft=0.2)),
                sim.UserTurn("What time is it?", transcription_delay=0.3,
                             reply=sim.AgentReply("It is noon.", tts_ttfb=0.25)),
            ],
        )
        await session.aclose()

Scripted responses are consumed first in, first out: one LLM response per
``chat()`` call, one TTS response per ``synthesize()`` call (keep each reply to one
sentence: the framework's sentence splitter makes one call per sentence), one STT
transcript per detected utterance. When a queue is empty the component's defaults
are used.

Timing is accurate to a few milliseconds, except that a full garbage collection of
livekit-agents' large heap can pause the event loop for ~0.2 s. Tests that compare
delays tightly should call ``gc.collect(); gc.freeze()`` once everything is imported.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from livekit import rtc
from livekit.agents import llm, stt, tts, vad
from livekit.agents.voice import io as voice_io

if TYPE_CHECKING:
    from livekit.agents import AgentSession

__all__ = [
    "AgentReply",
    "PlaybackSegment",
    "SimulatedAudioInput",
    "SimulatedAudioOutput",
    "SimulatedLLM",
    "SimulatedSTT",
    "SimulatedTTS",
    "SimulatedVAD",
    "TurnRecord",
    "UserTurn",
    "run_conversation",
    "session_options",
    "simulated_session",
]

_INT16_MAX = 32767
# TTS frames of 50 ms: from 1.1 the AudioEmitter holds back the last frame it was
# given until the next one arrives, so big frames would move TTFB onto the tail.
_TTS_FRAME_SECONDS = 0.05
_POLL_INTERVAL = 0.005


def _accepts(func: Callable[..., Any], name: str) -> bool:
    """Whether ``func`` takes a parameter called ``name`` (feature detection)."""
    try:
        return name in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def _conn_options(kwargs: dict[str, Any]) -> Any:
    """The caller's ``conn_options`` or the framework's default for this release."""
    from livekit.agents import DEFAULT_API_CONNECT_OPTIONS

    return kwargs.get("conn_options") or DEFAULT_API_CONNECT_OPTIONS


def _frame_is_speech(frame: rtc.AudioFrame, threshold: float) -> bool:
    """Peak-amplitude detector: enough for the synthetic square wave, and for mics."""
    samples = frame.data
    if len(samples) == 0:
        return False
    peak = max(abs(int(max(samples))), abs(int(min(samples))))
    return peak / _INT16_MAX >= threshold


# --------------------------------------------------------------------------- script


@dataclass(frozen=True)
class AgentReply:
    """What the agent answers to one user turn: LLM text, delays and usage."""

    text: str = "Sure, I can help with that."
    llm_ttft: float = 0.1
    """Seconds from the LLM request to its first (and only) content chunk."""
    tts_ttfb: float = 0.1
    """Seconds from the TTS request to its first audio frame."""
    prompt_tokens: int = 20
    completion_tokens: int | None = None
    """Defaults to the number of words in ``text``."""
    prompt_cached_tokens: int = 0
    audio_duration: float | None = None
    """Seconds of synthesized audio; defaults to the TTS's ``seconds_per_char``."""


@dataclass(frozen=True)
class UserTurn:
    """One scripted user utterance and, optionally, the agent's scripted reply."""

    transcript: str
    speech_duration: float = 0.5
    """Seconds of speech audio the simulated user produces."""
    transcription_delay: float = 0.1
    """Seconds from the end of speech to the STT's final transcript."""
    stt_audio_duration: float | None = None
    """Audio seconds the STT reports as usage; defaults to the speech duration."""
    reply: AgentReply | None = field(default_factory=AgentReply)
    """The reply to script, or None to leave the LLM and TTS queues alone."""
    pause_before: float = 0.2
    """Silence before the user starts speaking."""
    barge_in_after: float | None = None
    """Start speaking this many seconds after the previous reply started playing,
    instead of waiting for it to finish (the reply is then interrupted)."""


@dataclass
class PlaybackSegment:
    """One segment "played" by :class:`SimulatedAudioOutput` (wall-clock times)."""

    started_at: float
    pushed_duration: float = 0.0
    finished_at: float | None = None
    playback_position: float = 0.0
    interrupted: bool = False


@dataclass
class TurnRecord:
    """What :func:`run_conversation` observed for one user turn (wall-clock times)."""

    turn: UserTurn
    speech_started_at: float
    speech_ended_at: float
    speech_id: str | None = None
    playback: PlaybackSegment | None = None
    interrupted: bool = False


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


@dataclass(frozen=True)
class _STTScript:
    transcript: str
    delay: float
    audio_duration: float | None


class _DeclaredModel:
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


class SimulatedLLM(_DeclaredModel, llm.LLM[Any]):
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
            conn_options=_conn_options(kwargs),
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


class SimulatedTTS(_DeclaredModel, tts.TTS[Any]):
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
            self, script, input_text=text, conn_options=_conn_options(kwargs)
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


# ------------------------------------------------------------------------------ STT


class SimulatedSTT(_DeclaredModel, stt.STT[Any]):
    """A streaming ``stt.STT`` that transcribes utterances with scripted text and delay.

    Its stream detects the end of each utterance in the audio it receives (the same
    energy rule as :class:`SimulatedVAD`), waits the scripted transcription delay,
    then emits FINAL_TRANSCRIPT and RECOGNITION_USAGE (so the base class emits an
    ``STTMetrics`` with the utterance's audio duration).
    """

    def __init__(
        self,
        provider: str = "simulated",
        model: str = "sim-stt",
        *,
        transcription_delay: float = 0.1,
        default_transcript: str = "Hello.",
        activation_threshold: float = 0.05,
        language: str = "en",
    ) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=True, interim_results=False))
        self._declare(provider, model)
        self._default = _STTScript(default_transcript, transcription_delay, None)
        self._threshold = activation_threshold
        # Any: a plain str before 1.8, a LanguageCode (str subclass) after
        self._language: Any = language
        self._scripts: deque[_STTScript] = deque()

    def push_transcript(
        self, text: str, *, delay: float | None = None, audio_duration: float | None = None
    ) -> None:
        """Queue the transcript of the next utterance the STT hears."""
        self._scripts.append(
            _STTScript(text, self._default.delay if delay is None else delay, audio_duration)
        )

    def _next_script(self) -> _STTScript:
        return self._scripts.popleft() if self._scripts else self._default

    def _speech_event(
        self, kind: stt.SpeechEventType, text: str, request_id: str = ""
    ) -> stt.SpeechEvent:
        alt = stt.SpeechData(language=self._language, text=text, confidence=1.0)
        return stt.SpeechEvent(type=kind, request_id=request_id, alternatives=[alt])

    async def _recognize_impl(self, *args: Any, **kwargs: Any) -> stt.SpeechEvent:
        script = self._next_script()
        await asyncio.sleep(script.delay)
        return self._speech_event(stt.SpeechEventType.FINAL_TRANSCRIPT, script.transcript)

    def stream(self, *args: Any, **kwargs: Any) -> stt.RecognizeStream:
        return _SimulatedRecognizeStream(self, conn_options=_conn_options(kwargs))


class _SimulatedRecognizeStream(stt.RecognizeStream):
    def __init__(self, owner: SimulatedSTT, **kwargs: Any) -> None:
        super().__init__(stt=owner, **kwargs)
        self._owner = owner
        self._pending: set[asyncio.Task[None]] = set()

    async def _run(self) -> None:
        speech_samples = 0
        sample_rate = 0
        try:
            async for item in self._input_ch:
                if not isinstance(item, rtc.AudioFrame):
                    continue  # flush sentinel: utterances are delimited by the audio
                sample_rate = item.sample_rate
                if _frame_is_speech(item, self._owner._threshold):
                    speech_samples += item.samples_per_channel
                elif speech_samples:
                    # this silent frame was handed out one frame after the speech ended
                    self._transcribe_later(speech_samples / sample_rate, item.duration)
                    speech_samples = 0
        finally:
            for task in self._pending:
                task.cancel()

    def _transcribe_later(self, speech_seconds: float, late_by: float) -> None:
        # a task per utterance: the delay must not hold back the next frames
        script = self._owner._next_script()
        task = asyncio.create_task(self._transcribe(script, speech_seconds, late_by))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _transcribe(self, script: _STTScript, speech_seconds: float, late_by: float) -> None:
        await asyncio.sleep(max(0.0, script.delay - late_by))
        owner = self._owner
        if self._event_ch.closed:
            return
        request_id = f"simstt_{uuid.uuid4().hex[:12]}"
        final = owner._speech_event(
            stt.SpeechEventType.FINAL_TRANSCRIPT, script.transcript, request_id
        )
        self._event_ch.send_nowait(final)
        audio = speech_seconds if script.audio_duration is None else script.audio_duration
        usage = stt.SpeechEvent(
            type=stt.SpeechEventType.RECOGNITION_USAGE,
            request_id=request_id,
            recognition_usage=stt.RecognitionUsage(audio_duration=audio),
        )
        self._event_ch.send_nowait(usage)


# ------------------------------------------------------------------------------ VAD


class SimulatedVAD(_DeclaredModel, vad.VAD):
    """An energy ``vad.VAD`` over the received frames, with Silero-like events.

    Emits START_OF_SPEECH once ``min_speech_duration`` of speech has accumulated,
    INFERENCE_DONE for every frame (with ``speech_duration`` growing, which drives
    interruptions, and ``raw_accumulated_speech``, which 1.4.x needs for its
    end-to-end latency), and END_OF_SPEECH after ``min_silence_duration`` of silence
    with ``silence_duration`` set, so the framework dates the end of speech exactly.
    """

    def __init__(
        self,
        provider: str = "simulated",
        model: str = "sim-vad",
        *,
        activation_threshold: float = 0.05,
        min_speech_duration: float = 0.05,
        min_silence_duration: float = 0.2,
        update_interval: float = 0.01,
    ) -> None:
        super().__init__(capabilities=vad.VADCapabilities(update_interval=update_interval))
        self._declare(provider, model)
        self.activation_threshold = activation_threshold
        self.min_speech_duration = min_speech_duration
        self.min_silence_duration = min_silence_duration

    def stream(self) -> vad.VADStream:
        return _SimulatedVADStream(self)


@dataclass
class _VADState:
    speaking: bool = False
    speech: float = 0.0  # published speech duration of the current segment
    raw_speech: float = 0.0  # consecutive speech, reset by any silent frame
    raw_silence: float = 0.0  # consecutive silence, reset by any speech frame
    samples_index: int = 0


class _SimulatedVADStream(vad.VADStream):
    def __init__(self, owner: SimulatedVAD) -> None:
        super().__init__(owner)
        self._owner = owner
        self._state = _VADState()

    async def _main_task(self) -> None:
        async for item in self._input_ch:
            if isinstance(item, rtc.AudioFrame):
                self._process(item)
            else:
                self._state = _VADState()  # flush: hard segment boundary (1.8 contract)

    def _process(self, frame: rtc.AudioFrame) -> None:
        owner, st = self._owner, self._state
        is_speech = _frame_is_speech(frame, owner.activation_threshold)
        st.samples_index += frame.samples_per_channel
        if is_speech:
            st.raw_speech += frame.duration
            st.raw_silence = 0.0
            if st.speaking:
                st.speech += frame.duration
        else:
            st.raw_silence += frame.duration
            st.raw_speech = 0.0
        self._send(vad.VADEventType.INFERENCE_DONE, frame, probability=float(is_speech))
        if not st.speaking and st.raw_speech >= owner.min_speech_duration - 1e-9:
            st.speaking, st.speech = True, st.raw_speech
            self._send(vad.VADEventType.START_OF_SPEECH, frame)
        elif st.speaking and st.raw_silence >= owner.min_silence_duration - 1e-9:
            st.speaking = False
            self._send(vad.VADEventType.END_OF_SPEECH, frame)
            st.speech = 0.0

    def _send(
        self, kind: vad.VADEventType, frame: rtc.AudioFrame, probability: float = 0.0
    ) -> None:
        st = self._state
        self._event_ch.send_nowait(
            vad.VADEvent(
                type=kind,
                samples_index=st.samples_index,
                timestamp=time.time(),
                speech_duration=st.speech,
                silence_duration=st.raw_silence,
                frames=[frame],
                probability=probability,
                inference_duration=0.0,
                speaking=st.speaking,
                raw_accumulated_silence=st.raw_silence,
                raw_accumulated_speech=st.raw_speech,
            )
        )


# ---------------------------------------------------------------------- audio input


class SimulatedAudioInput(voice_io.AudioInput):
    """A microphone that yields real-time paced frames: silence, or scripted speech.

    A frame is handed out when its audio "has been recorded", so a frame returned at
    wall time T covers ``[T - frame_duration, T]``.
    """

    def __init__(
        self,
        *,
        sample_rate: int = 16000,
        frame_duration: float = 0.01,
        amplitude: float = 0.3,
        label: str = "SimulatedAudioInput",
    ) -> None:
        # 1.2+ requires a label; 1.0-1.1 AudioInput has no __init__ of its own
        kwargs: dict[str, Any] = {}
        if _accepts(voice_io.AudioInput.__init__, "label"):
            kwargs["label"] = label
        super().__init__(**kwargs)
        self._sample_rate = sample_rate
        self._samples = int(sample_rate * frame_duration)
        self._frame_duration = self._samples / sample_rate
        self._silence = b"\x00\x00" * self._samples
        self._speech = self._square_wave(amplitude)
        self._speech_frames_left = 0
        self._speech_started_at: float | None = None
        self._speech_done: asyncio.Future[tuple[float, float]] | None = None
        self._next_deadline: float | None = None
        self._closed = False

    def _square_wave(self, amplitude: float) -> bytes:
        level = int(amplitude * _INT16_MAX)
        half_period = max(1, self._sample_rate // 400)  # 200 Hz
        values = [level if (i // half_period) % 2 == 0 else -level for i in range(self._samples)]
        return b"".join(v.to_bytes(2, "little", signed=True) for v in values)

    @property
    def frame_duration(self) -> float:
        return self._frame_duration

    async def speak(self, duration: float) -> tuple[float, float]:
        """Play ``duration`` seconds of speech; return its (start, end) wall times."""
        if self._speech_done is not None:
            raise RuntimeError("the simulated user is already speaking")
        self._speech_frames_left = max(1, round(duration / self._frame_duration))
        self._speech_done = asyncio.get_running_loop().create_future()
        try:
            return await self._speech_done
        finally:
            self._speech_done = None

    def close(self) -> None:
        """End the stream: the session's audio forwarding stops."""
        self._closed = True

    async def __anext__(self) -> rtc.AudioFrame:
        if self._closed:
            raise StopAsyncIteration
        await self._pace()
        data = self._silence
        if self._speech_frames_left > 0:
            data = self._speech
            self._on_speech_frame()
        return rtc.AudioFrame(data, self._sample_rate, 1, self._samples)

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        # a reader that fell far behind (or is new) restarts the clock: a real mic
        # drops audio nobody read rather than replaying it in a burst
        if self._next_deadline is None or now - self._next_deadline > 0.2:
            self._next_deadline = now
        self._next_deadline += self._frame_duration
        await asyncio.sleep(max(0.0, self._next_deadline - loop.time()))

    def _on_speech_frame(self) -> None:
        now = time.time()
        if self._speech_started_at is None:
            self._speech_started_at = now - self._frame_duration
        self._speech_frames_left -= 1
        if self._speech_frames_left == 0:
            started, self._speech_started_at = self._speech_started_at, None
            if self._speech_done is not None and not self._speech_done.done():
                self._speech_done.set_result((started, now))


# --------------------------------------------------------------------- audio output


class SimulatedAudioOutput(voice_io.AudioOutput):
    """An audio sink that "plays" each segment in real time and reports it.

    It calls ``on_playback_started`` (1.3+) at the first frame of a segment (without
    it the framework has no ``e2e_latency``) and ``on_playback_finished`` when the
    segment's audio has played, or at once with the played position when
    ``clear_buffer()`` interrupts it. ``segments`` keeps every segment.
    """

    def __init__(
        self, *, sample_rate: int | None = None, label: str = "SimulatedAudioOutput"
    ) -> None:
        kwargs: dict[str, Any] = {"next_in_chain": None, "sample_rate": sample_rate}
        if _accepts(voice_io.AudioOutput.__init__, "capabilities"):
            # 1.2+; no pause support, so an interruption is a plain clear_buffer()
            caps = voice_io.AudioOutputCapabilities(pause=False)  # type: ignore[attr-defined,unused-ignore]
            kwargs.update(label=label, capabilities=caps)
        super().__init__(**kwargs)
        self.segments: list[PlaybackSegment] = []
        self._current: PlaybackSegment | None = None
        self._flushed: asyncio.Event | None = None
        self._playout_task: asyncio.Task[None] | None = None
        self._capturing = False  # mirrors the base: between first frame and flush()
        self._discarding = False  # cleared mid-capture: drop frames until flush()

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)  # the base counts playback segments
        self._capturing = True
        if self._discarding:
            return  # in-flight frames of a cleared segment are not a new segment
        if self._current is None:
            self._start_segment()
        assert self._current is not None
        self._current.pushed_duration += frame.duration

    def _start_segment(self) -> None:
        segment = PlaybackSegment(started_at=time.time())
        self._current = segment
        self.segments.append(segment)
        self._flushed = asyncio.Event()
        self._playout_task = asyncio.create_task(self._playout(segment, self._flushed))
        if hasattr(self, "on_playback_started"):  # 1.3+
            self.on_playback_started(created_at=segment.started_at)

    async def _playout(self, segment: PlaybackSegment, flushed: asyncio.Event) -> None:
        await flushed.wait()
        await asyncio.sleep(max(0.0, segment.started_at + segment.pushed_duration - time.time()))
        self._finish(segment, segment.pushed_duration, interrupted=False)

    def _finish(self, segment: PlaybackSegment, position: float, *, interrupted: bool) -> None:
        if segment.finished_at is not None:
            return
        segment.finished_at = time.time()
        segment.playback_position = position
        segment.interrupted = interrupted
        if self._current is segment:
            self._current = None
        self.on_playback_finished(playback_position=position, interrupted=interrupted)

    def flush(self) -> None:
        super().flush()
        self._capturing = self._discarding = False
        if self._flushed is not None:
            self._flushed.set()

    def clear_buffer(self) -> None:
        segment = self._current
        if segment is None:
            return
        if self._playout_task is not None:
            self._playout_task.cancel()
        # 1.8 flushes before clearing; older releases may clear first, then flush
        self._discarding = self._capturing
        played = min(segment.pushed_duration, max(0.0, time.time() - segment.started_at))
        self._finish(segment, played, interrupted=True)


# --------------------------------------------------------------------------- driver


def session_options(
    *,
    min_endpointing_delay: float = 0.2,
    max_endpointing_delay: float = 3.0,
    allow_interruptions: bool = True,
    min_interruption_duration: float = 0.3,
) -> dict[str, Any]:
    """``AgentSession`` keyword arguments that make a simulated session deterministic.

    VAD turn detection with a fixed endpointing delay, VAD (not adaptive, which needs
    LiveKit inference) interruptions, no false-interruption resume, no preemptive
    generation, no echo-cancellation warm-up (1.4+ disables interruptions during
    it) and no user-away timer. Uses ``turn_handling`` where the release has it
    (1.5+) and the older keyword arguments elsewhere.
    """
    from livekit.agents import AgentSession

    init = AgentSession.__init__
    opts: dict[str, Any] = {}
    if _accepts(init, "turn_handling"):
        opts["turn_handling"] = {
            "turn_detection": "vad",
            "endpointing": {
                "mode": "fixed",
                "min_delay": min_endpointing_delay,
                "max_delay": max_endpointing_delay,
            },
            "interruption": {
                "enabled": allow_interruptions,
                "mode": "vad",
                "min_duration": min_interruption_duration,
                "resume_false_interruption": False,
                "false_interruption_timeout": None,
            },
            "preemptive_generation": {"enabled": False},
        }
    else:
        opts.update(
            turn_detection="vad",
            min_endpointing_delay=min_endpointing_delay,
            max_endpointing_delay=max_endpointing_delay,
            allow_interruptions=allow_interruptions,
            min_interruption_duration=min_interruption_duration,
        )
        optional = {
            "preemptive_generation": False,
            "resume_false_interruption": False,
            "false_interruption_timeout": None,
        }
        opts.update({k: v for k, v in optional.items() if _accepts(init, k)})
    if _accepts(init, "aec_warmup_duration"):
        opts["aec_warmup_duration"] = None
    if _accepts(init, "user_away_timeout"):
        opts["user_away_timeout"] = None
    return opts


def simulated_session(
    *,
    stt: Any = None,
    llm: Any = None,
    tts: Any = None,
    vad_silence: float = 0.2,
    **options: Any,
) -> AgentSession[Any]:
    """An ``AgentSession`` with simulated audio in and out, ready to ``start()``.

    ``stt``, ``llm`` and ``tts`` default to the simulated components; the VAD is a
    :class:`SimulatedVAD` that ends speech after ``vad_silence`` seconds of silence;
    ``options`` go to :func:`session_options`.
    """
    from livekit.agents import AgentSession

    session: AgentSession[Any] = AgentSession(
        stt=stt or SimulatedSTT(),
        vad=SimulatedVAD(min_silence_duration=vad_silence),
        llm=llm or SimulatedLLM(),
        tts=tts or SimulatedTTS(),
        **session_options(**options),
    )
    session.input.audio = SimulatedAudioInput()
    session.output.audio = SimulatedAudioOutput()
    return session


async def _wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise asyncio.TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(_POLL_INTERVAL)


class _SpeechLog:
    """Collects the session's ``speech_created`` handles with their creation time."""

    def __init__(self) -> None:
        self.handles: list[tuple[float, Any]] = []

    def __call__(self, ev: Any) -> None:
        self.handles.append((time.time(), ev.speech_handle))

    def first_after(self, t: float) -> tuple[float, Any] | None:
        return next(((c, h) for c, h in self.handles if c >= t), None)


def _current(session: Any, name: str) -> Any:
    """The current agent's own STT, LLM or TTS where it has one, else the session's."""
    try:
        component = getattr(session.current_agent, name, None)
    except RuntimeError:  # no agent yet
        component = None
    if isinstance(component, (stt.STT, llm.LLM, tts.TTS)):
        return component
    return getattr(session, name)


def _script_turn(turn: UserTurn, stt_: Any, llm_: Any, tts_: Any) -> None:
    if isinstance(stt_, SimulatedSTT):
        stt_.push_transcript(
            turn.transcript, delay=turn.transcription_delay, audio_duration=turn.stt_audio_duration
        )
    reply = turn.reply
    if reply is None:
        return
    if isinstance(llm_, SimulatedLLM):
        llm_.push_response(
            reply.text,
            ttft=reply.llm_ttft,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            prompt_cached_tokens=reply.prompt_cached_tokens,
        )
    if isinstance(tts_, SimulatedTTS):
        tts_.push_response(ttfb=reply.tts_ttfb, audio_duration=reply.audio_duration)


async def _follow_reply(
    record: TurnRecord, log: _SpeechLog, output: SimulatedAudioOutput | None, timeout: float
) -> None:
    await _wait_until(lambda: log.first_after(record.speech_ended_at) is not None, timeout, "reply")
    found = log.first_after(record.speech_ended_at)
    assert found is not None
    created_at, handle = found
    record.speech_id = handle.id
    await asyncio.wait_for(handle.wait_for_playout(), timeout)
    record.interrupted = bool(handle.interrupted)
    if output is not None:
        record.playback = next((s for s in output.segments if s.started_at >= created_at), None)


async def _wait_playback_started(
    record: TurnRecord, output: SimulatedAudioOutput, timeout: float
) -> None:
    def started() -> bool:
        return any(s.started_at >= record.speech_ended_at for s in output.segments)

    await _wait_until(started, timeout, "the reply to start playing")


async def run_conversation(
    session: Any,
    turns: list[UserTurn],
    *,
    reply_timeout: float = 15.0,
) -> list[TurnRecord]:
    """Play the user turns into a started session and wait for every reply.

    ``session.input.audio`` must be a :class:`SimulatedAudioInput`. When the
    session's STT, LLM and TTS are simulated components, each turn's transcript
    and reply are queued on them first (other components are left alone). Returns
    one :class:`TurnRecord` per turn, with the reply's speech id and, when
    ``session.output.audio`` is a :class:`SimulatedAudioOutput`, its playback.
    """
    audio_in = session.input.audio
    if not isinstance(audio_in, SimulatedAudioInput):
        raise TypeError("session.input.audio must be a SimulatedAudioInput")
    output = (
        session.output.audio if isinstance(session.output.audio, SimulatedAudioOutput) else None
    )
    log = _SpeechLog()
    session.on("speech_created", log)
    records: list[TurnRecord] = []
    followers: list[asyncio.Task[None]] = []
    try:
        for turn in turns:
            await _before_turn(turn, records, followers, output, reply_timeout)
            _script_turn(turn, *(_current(session, name) for name in ("stt", "llm", "tts")))
            started, ended = await audio_in.speak(turn.speech_duration)
            record = TurnRecord(turn=turn, speech_started_at=started, speech_ended_at=ended)
            records.append(record)
            if turn.reply is not None:
                followers.append(
                    asyncio.create_task(_follow_reply(record, log, output, reply_timeout))
                )
        await asyncio.gather(*followers)
    finally:
        for task in followers:
            task.cancel()
        session.off("speech_created", log)
    return records


async def _before_turn(
    turn: UserTurn,
    records: list[TurnRecord],
    followers: list[asyncio.Task[None]],
    output: SimulatedAudioOutput | None,
    timeout: float,
) -> None:
    if turn.barge_in_after is None or not records:
        if followers:
            await followers[-1]  # the previous reply has finished playing
        await asyncio.sleep(turn.pause_before)
        return
    if output is None:
        raise TypeError("barge_in_after needs session.output.audio to be a SimulatedAudioOutput")
    await _wait_playback_started(records[-1], output, timeout)
    started = next(s for s in output.segments if s.started_at >= records[-1].speech_ended_at)
    await asyncio.sleep(max(0.0, started.started_at + turn.barge_in_after - time.time()))
