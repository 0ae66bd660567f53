"""Scripted components that drive a real LiveKit Agents session in-process.

Check an agent of your own, and the metrics it exports, without a LiveKit server,
a room, a network or API keys: the session is the framework's own
(``livekit.agents.LiveSession`` on 2.0, ``AgentSession`` before), and every
component subclasses the framework's own base class (``stt.STT``, ``llm.LLM``,
``tts.TTS``, ``vad.VAD``, ``io.AudioInput``, ``io.AudioOutput``), so the framework's
own machinery measures the turns and emits ``metrics_collected`` (``STTMetrics``,
``EOUMetrics``, ``LLMMetrics``, ``TTSMetrics``) and, from livekit-agents 1.3.1,
``ChatMessage.metrics``. Every delay and every usage figure is scripted. The
components work on every livekit-agents release from 1.0.23 on.

The public surface is ``__all__``: :func:`simulated_session` builds the session,
:func:`run_conversation` plays :class:`UserTurn` s (each with its scripted
:class:`AgentReply`) into it and returns a :class:`TurnRecord` per turn (with the
reply's :class:`PlaybackSegment`); :class:`SimulatedSTT`, :class:`SimulatedLLM` and
:class:`SimulatedTTS` declare the ``model`` and ``provider`` your metrics are keyed by.

How a scripted turn flows:

1. The simulated microphone produces real-time paced audio frames, silent except
   while the user "speaks" (a square wave).
2. The simulated VAD is an energy detector over those frames: START_OF_SPEECH,
   INFERENCE_DONE for every frame, END_OF_SPEECH after ``vad_silence``.
3. :class:`SimulatedSTT` detects the end of the utterance in the same frames and,
   after the scripted transcription delay, emits the final transcript and a
   RECOGNITION_USAGE event carrying the utterance's audio duration.
4. The framework detects the end of the turn and calls :class:`SimulatedLLM`, which
   answers after the scripted time to first token, with a usage chunk.
5. :class:`SimulatedTTS` returns the scripted audio after the scripted time to first
   byte, and the simulated speaker "plays" it in real time.

Example, ``check_agent.py``, run with ``opentelemetry-instrument python check_agent.py``
(the console exporter prints every metric at exit)::

    import asyncio

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

    asyncio.run(main())

Scripted responses are consumed first in, first out: one LLM response per
``chat()`` call, one TTS response per ``synthesize()`` call (keep each reply to one
sentence: the framework's sentence splitter makes one call per sentence), one STT
transcript per detected utterance. When a queue is empty the component's defaults
are used.

The delays are waited with ``asyncio.sleep``: the framework measures at least the
scripted figure, and more on a busy machine; a full garbage collection of
livekit-agents' large heap can pause the event loop for ~0.2 s, so call
``gc.collect(); gc.freeze()`` once everything is imported when timing matters.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from livekit.agents import llm, stt, tts

from opentelemetry.instrumentation.livekit_agents.demo._audio_io import (
    PlaybackSegment,
    SimulatedAudioInput,
    SimulatedAudioOutput,
)
from opentelemetry.instrumentation.livekit_agents.demo._models import SimulatedLLM, SimulatedTTS
from opentelemetry.instrumentation.livekit_agents.demo._release import (
    session_class,
    session_options,
)
from opentelemetry.instrumentation.livekit_agents.demo._speech_detection import (
    SimulatedSTT,
    SimulatedVAD,
)

if TYPE_CHECKING:
    from livekit.agents import AgentSession

__all__ = [
    "AgentReply",
    "PlaybackSegment",
    "SimulatedLLM",
    "SimulatedSTT",
    "SimulatedTTS",
    "TurnRecord",
    "UserTurn",
    "run_conversation",
    "simulated_session",
]

_POLL_INTERVAL = 0.005


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
class TurnRecord:
    """What :func:`run_conversation` observed for one user turn (wall-clock times)."""

    turn: UserTurn
    speech_started_at: float
    speech_ended_at: float
    speech_id: str | None = None
    playback: PlaybackSegment | None = None
    interrupted: bool = False


# --------------------------------------------------------------------------- driver


def simulated_session(
    *,
    stt: Any = None,
    llm: Any = None,
    tts: Any = None,
    vad_silence: float = 0.2,
    **options: Any,
) -> AgentSession[Any]:
    """A session with simulated audio in and out, ready to ``start()``.

    ``stt``, ``llm`` and ``tts`` default to the simulated components; the simulated
    VAD ends speech after ``vad_silence`` seconds of silence. The session is made
    deterministic: VAD turn detection, no preemptive generation, no false-interruption
    resume, no echo-cancellation warm-up and no user-away timer; ``options`` tune it:
    ``min_endpointing_delay`` (0.2 s), ``max_endpointing_delay`` (3.0 s),
    ``allow_interruptions`` (True) and ``min_interruption_duration`` (0.3 s).
    """
    session: AgentSession[Any] = session_class()(
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

    ``session`` comes from :func:`simulated_session` (its audio input is the
    simulated microphone). When the session's STT, LLM and TTS are simulated
    components, each turn's transcript and reply are queued on them first (other
    components are left alone). Returns one :class:`TurnRecord` per turn, with the
    reply's speech id and its playback on the simulated speaker.
    """
    audio_in = session.input.audio
    if not isinstance(audio_in, SimulatedAudioInput):
        raise TypeError("session.input.audio is not simulated: use simulated_session()")
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
        raise TypeError("barge_in_after needs the simulated speaker of simulated_session()")
    await _wait_playback_started(records[-1], output, timeout)
    started = next(s for s in output.segments if s.started_at >= records[-1].speech_ended_at)
    await asyncio.sleep(max(0.0, started.started_at + turn.barge_in_after - time.time()))
