"""The simulated STT and VAD of :mod:`.simulation`: both listen to the same frames.

Speech is any frame whose peak amplitude reaches a threshold: enough for the
simulated microphone's square wave. The STT transcribes each utterance it hears
with the transcript queued on it; the VAD emits Silero-like events.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from livekit import rtc
from livekit.agents import stt, vad

from opentelemetry.instrumentation.livekit_agents.demo._models import DeclaredModel
from opentelemetry.instrumentation.livekit_agents.demo._release import conn_options

INT16_MAX = 32767


def frame_is_speech(frame: rtc.AudioFrame, threshold: float) -> bool:
    """Peak-amplitude detector: enough for the synthetic square wave, and for mics."""
    samples = frame.data
    if len(samples) == 0:
        return False
    peak = max(abs(int(max(samples))), abs(int(min(samples))))
    return peak / INT16_MAX >= threshold


@dataclass(frozen=True)
class _STTScript:
    transcript: str
    delay: float
    audio_duration: float | None


# ------------------------------------------------------------------------------ STT


class SimulatedSTT(DeclaredModel, stt.STT[Any]):
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
        return _SimulatedRecognizeStream(self, conn_options=conn_options(kwargs))


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
                if frame_is_speech(item, self._owner._threshold):
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


class SimulatedVAD(DeclaredModel, vad.VAD):
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
        is_speech = frame_is_speech(frame, owner.activation_threshold)
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
