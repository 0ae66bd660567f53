"""The post-import patching that every connection part shares (``HookedPatches``)."""

from __future__ import annotations

from typing import Any, Callable

from livekit.agents.stt import stream_adapter
from opentelemetry.sdk.metrics import MeterProvider

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.hooked_patches import (
    HookedPatches,
    HookedTarget,
)
from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

MODULE = "livekit.agents.stt.stream_adapter"


def passing(recorder: Recorder) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        return wrapped(*args, **kwargs)

    return wrapper


def test_an_inherited_method_is_left_to_its_own_class(meter_provider: MeterProvider) -> None:
    """``StreamAdapter.emit`` is ``EventEmitter.emit``: patching it on the subclass would
    wrap the calls of a class that patches its own method twice. ``stream``, the
    subclass's own, is patched and restored."""
    adapter = stream_adapter.StreamAdapter
    inherited, own = adapter.emit, vars(adapter)["stream"]
    patches = HookedPatches(
        [HookedTarget(MODULE, "StreamAdapter.emit", passing),
         HookedTarget(MODULE, "StreamAdapter.stream", passing)]
    )  # fmt: skip
    patches.instrument(Recorder.create(meter_provider))
    try:
        assert "emit" not in vars(adapter)
        assert adapter.emit is inherited
        assert vars(adapter)["stream"] is not own
    finally:
        patches.uninstrument()
    assert vars(adapter)["stream"] is own
