"""The demo's script: who calls, what they say, and what each simulated provider takes.

The simulated components carry the names and labels of real plugins (Deepgram,
OpenAI, Anthropic, Cartesia) so that what the demo exports is what a real agent
would: a dashboard filter copied from the demo finds production series too.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from livekit.agents import stt

from opentelemetry.instrumentation.livekit_agents.demo.simulation import AgentReply, UserTurn

# Plugins declare their provider with a ``provider`` property from livekit-agents
# 1.2.12; before that they declare none and the instrumentation labels a component
# with its plugin's package name.
_PLUGINS_DECLARE_PROVIDER = hasattr(stt.STT, "provider")


@dataclass(frozen=True)
class SimulatedProvider:
    """A hosted provider as its plugin labels it, and the delay it typically takes."""

    plugin: str
    """The plugin package, ``livekit.plugins.<plugin>``."""
    declared: str
    """What the plugin's ``provider`` property returns (the same from 1.2.12 to 1.8.9)."""
    model: str
    median: float
    """Seconds: time to first transcript, token or audio byte."""
    spread: float = 0.3
    """Log-normal sigma: latencies have a long right tail."""

    @property
    def provider(self) -> str:
        """The ``model_provider`` the real plugin's components get on this release."""
        return self.declared if _PLUGINS_DECLARE_PROVIDER else self.plugin

    def draw(self, rng: random.Random, scale: float) -> float:
        """One delay, log-normally around the median, clipped to [median/3, median*3]."""
        value = self.median * math.exp(rng.gauss(0.0, self.spread))
        return scale * min(max(value, self.median / 3), self.median * 3)


# the OpenAI-compatible plugins (openai, anthropic) report their API host
STT = SimulatedProvider("deepgram", "Deepgram", "nova-3", 0.20)
TTS = SimulatedProvider("cartesia", "Cartesia", "sonic-2", 0.11, spread=0.2)
TTS_HANDSHAKE = SimulatedProvider("cartesia", "Cartesia", "sonic-2", 0.18, spread=0.2)
FRONT_DESK_LLM = SimulatedProvider("openai", "api.openai.com", "gpt-4o-mini", 0.42)
BILLING_LLM = SimulatedProvider("anthropic", "api.anthropic.com", "claude-3-5-haiku", 0.65)


@dataclass(frozen=True)
class Persona:
    """An agent of the demo: its instructions, its LLM and its half of the script."""

    name: str
    instructions: str
    llm: SimulatedProvider
    lines: tuple[tuple[str, str], ...]
    """(what the caller says, the agent's one-sentence answer), cycled."""


FRONT_DESK = Persona(
    "front-desk",
    "You are the front desk of an online shop. Be brief.",
    FRONT_DESK_LLM,
    (
        ("Hi, I'd like to check on my order.", "Sure, what is the order number?"),
        ("It's four two seven one.", "Thanks, order 4271 shipped yesterday and arrives Friday."),
        ("Can it come to my office instead?", "Yes, I have updated the delivery address."),
        ("Also, I was charged twice for it.", "Sorry about that, let me get billing for you."),
    ),
)
BILLING = Persona(
    "billing",
    "You are the billing desk of an online shop. Be brief.",
    BILLING_LLM,
    (
        ("Hello, is this billing?", "Yes, I can see two charges of 24 dollars for order 4271."),
        ("Can you refund one of them?", "Done, the refund reaches your card in three days."),
        ("Will I get an email about it?", "Yes, a confirmation email is on its way now."),
        ("Great, that's all, thanks.", "You are welcome, have a nice day!"),
    ),
)


@dataclass(frozen=True)
class Pace:
    """How fast the conversation goes; ``FAST`` squeezes it for tests."""

    delay_scale: float
    """Multiplies every provider delay."""
    user_seconds_per_word: float
    tts_seconds_per_char: float
    pause_before: float
    vad_silence: float
    endpointing_delay: float
    reconnect_after: float
    """The TTS websocket is closed and reopened after this many seconds of use."""


REAL_TIME = Pace(1.0, 0.3, 0.06, 0.6, 0.3, 0.4, 20.0)
FAST = Pace(0.35, 0.06, 0.012, 0.1, 0.15, 0.2, 5.0)


def script(turns: int) -> list[tuple[Persona, str, str]]:
    """(persona, user line, reply) per turn: the front desk first, billing after."""
    handoff = max(1, turns // 2) if turns > 1 else turns
    lines = []
    for i in range(turns):
        persona, j = (FRONT_DESK, i) if i < handoff else (BILLING, i - handoff)
        user, reply = persona.lines[j % len(persona.lines)]
        lines.append((persona, user, reply))
    return lines


def completion_tokens(reply: str) -> int:
    """The tokens the simulated LLM reports for a reply: about 1.3 per English word."""
    return round(len(reply.split()) * 1.3)


def user_turn(
    user: str,
    reply: str,
    llm: SimulatedProvider,
    pace: Pace,
    rng: random.Random,
    prompt_tokens: int,
    cached_tokens: int,
) -> UserTurn:
    """One scripted exchange, its delays drawn for the providers that serve it."""
    scale = pace.delay_scale
    return UserTurn(
        user,
        speech_duration=max(0.3, len(user.split()) * pace.user_seconds_per_word),
        transcription_delay=STT.draw(rng, scale),
        pause_before=pace.pause_before,
        reply=AgentReply(
            reply,
            llm_ttft=llm.draw(rng, scale),
            tts_ttfb=TTS.draw(rng, scale),
            prompt_tokens=prompt_tokens,
            prompt_cached_tokens=cached_tokens,
            completion_tokens=completion_tokens(reply),
        ),
    )
