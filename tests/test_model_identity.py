"""Model attributes: declared properties first, then plugin options and package."""

from __future__ import annotations

import functools
import types
from typing import Any

from livekit.agents import tts, utils

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.pool import (
    pool_identity,
)
from opentelemetry.instrumentation.livekit_agents.model_identity import (
    MAX_VALUE_LENGTH,
    ModelIdentity,
    identify,
)


class _Options:
    def __init__(self, model: Any) -> None:
        self.model = model


class _PlainTTS(tts.TTS):
    """A TTS that declares nothing: the base's ``model`` is absent (< 1.2.12) or "unknown"."""

    def __init__(self, model: Any = "opt-model") -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False), sample_rate=16000, num_channels=1
        )
        self._opts = _Options(model)

    def synthesize(self, text: str, **kwargs: Any) -> tts.ChunkedStream:
        raise NotImplementedError

    async def connect(self, timeout: float = 1.0) -> object:
        return object()


# The same class as a plugin would ship it, in livekit.plugins.<name>.
AcmeTTS = type("AcmeTTS", (_PlainTTS,), {"__module__": "livekit.plugins.acme.tts"})


class _Declared(_PlainTTS):
    def __init__(self, model: Any, provider: Any) -> None:
        super().__init__()
        self._declared = (model, provider)

    @property
    def model(self) -> Any:
        return self._declared[0]

    @property
    def provider(self) -> Any:
        return self._declared[1]


class _Raising(_PlainTTS):
    @property
    def model(self) -> str:
        raise RuntimeError("plugin bug")


def test_declared_properties_win() -> None:
    identity = identify(_Declared("nova-3", "Deepgram"))
    assert identity == ModelIdentity("nova-3", "Deepgram", "deepgram")
    assert identity.attributes() == {"model_name": "nova-3", "model_provider": "Deepgram"}


def test_plugin_options_and_package_are_the_fallback() -> None:
    assert identify(AcmeTTS()) == ModelIdentity("opt-model", "acme", "acme")


def test_plugin_package_is_the_switch_key_even_when_declared() -> None:
    declared = type("Declared", (_Declared,), {"__module__": "livekit.plugins.openai.tts"})
    assert identify(declared("tts-1", "api.openai.com")).provider_key == "openai"


def test_nothing_known_is_unknown() -> None:
    assert identify(_PlainTTS(model=None)) == ModelIdentity("unknown", "unknown", "unknown")
    assert identify(object()) == ModelIdentity("unknown", "unknown", "unknown")


def test_odd_values_are_bounded_or_dropped() -> None:
    long = identify(_Declared("m" * 1000, "p" * 1000))
    assert len(long.model_name) == MAX_VALUE_LENGTH == len(long.model_provider)
    assert identify(_Declared("", 42)).model_name == "opt-model"
    assert identify(_Declared(None, 42)).model_provider == "unknown"
    creds = identify(_Declared("m", "user:secret@llm.example.com"))
    assert creds.model_provider == "llm.example.com"


def test_a_raising_property_is_unknown_not_an_error() -> None:
    assert identify(_Raising()).model_name == "unknown"


def test_pool_owner_through_bound_method_and_partial() -> None:
    owner = AcmeTTS()
    bound = utils.ConnectionPool(connect_cb=owner.connect)
    partial = utils.ConnectionPool(connect_cb=functools.partial(owner.connect, 2.0))
    assert (
        pool_identity(bound) == pool_identity(partial) == ModelIdentity("opt-model", "acme", "acme")
    )


def test_pool_without_owner_uses_the_callback_module() -> None:
    async def connect(timeout: float = 1.0) -> object:
        return object()

    plugin_module = types.ModuleType("livekit.plugins.zeta.stt")
    plugin_function = types.FunctionType(
        connect.__code__, {"object": object, "__name__": plugin_module.__name__}, "connect"
    )
    assert pool_identity(utils.ConnectionPool(connect_cb=plugin_function)).model_provider == "zeta"
    assert pool_identity(utils.ConnectionPool(connect_cb=connect)).model_provider == "unknown"
    assert pool_identity(utils.ConnectionPool()).model_provider == "unknown"
