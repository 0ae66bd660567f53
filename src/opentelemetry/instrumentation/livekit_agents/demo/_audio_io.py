"""The simulated microphone and speaker of :mod:`.simulation`.

The microphone yields real-time paced frames, silent except while the simulated user
speaks; the speaker "plays" each segment in real time and tells the framework when
playback starts and ends.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from livekit import rtc
from livekit.agents.voice import io as voice_io

from opentelemetry.instrumentation.livekit_agents.demo._release import accepts
from opentelemetry.instrumentation.livekit_agents.demo._speech_detection import INT16_MAX


@dataclass
class PlaybackSegment:
    """One segment "played" by :class:`SimulatedAudioOutput` (wall-clock times)."""

    started_at: float
    pushed_duration: float = 0.0
    finished_at: float | None = None
    playback_position: float = 0.0
    interrupted: bool = False


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
        if accepts(voice_io.AudioInput.__init__, "label"):
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
        level = int(amplitude * INT16_MAX)
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
        if accepts(voice_io.AudioOutput.__init__, "capabilities"):
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
