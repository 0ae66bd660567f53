"""Which component a connection belongs to, when the code that connects is not it.

Some plugins connect from a helper object (the openai Responses LLM's
``_ResponsesWebsocket``, rime's websocket adapters) or from a closure (vakyam's
per-configuration pools, rime's pools).  The helper knows no model, so its
points read ``model_name="unknown"``.  A link from helper to component, made
when the component is built, gives the connection the component's identity;
a closure's component is found among the variables it closes over.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import TYPE_CHECKING, Any, Callable

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.hooked_patches import (
    HookedPatches,
    HookedTarget,
)

if TYPE_CHECKING:
    from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.acquisition import (
        Wrapper,
    )
    from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

# helper -> component, neither kept alive by the link
_links: weakref.WeakKeyDictionary[Any, weakref.ref[Any]] = weakref.WeakKeyDictionary()

_HELPERS = {
    # the component class's module and name: the attributes that hold its helpers
    ("livekit.plugins.openai.responses.llm", "LLM.__init__"): ("_ws",),
    ("livekit.plugins.rime.tts", "TTS.__init__"): (
        "_websocket_v1_adapter",
        "_legacy_websocket_adapter",
    ),
}


def link(helper: object, component: object) -> None:
    """Attribute ``helper``'s connections to ``component``."""
    with contextlib.suppress(TypeError):  # not weak-referenceable: stays unattributed
        _links[helper] = weakref.ref(component)


def component_of(holder: object) -> object:
    """The component ``holder`` connects for: its linked component, else itself."""
    component = linked_component(holder)
    return holder if component is None else component


def linked_component(holder: object) -> object | None:
    """The component ``holder`` is linked to, or None (not linked, or gone)."""
    try:
        ref = _links.get(holder)
    except TypeError:
        return None
    return ref() if ref is not None else None


def closure_owner(callback: Callable[..., Any]) -> object | None:
    """The component a closure connects for: a linked helper or a component it closes
    over (the ``self`` of the method that built it), else None."""
    from livekit.agents import llm, stt, tts

    components = (stt.STT, tts.TTS, llm.LLM, llm.RealtimeModel)
    for cell in getattr(callback, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # a cell not yet assigned
            continue
        if isinstance(value, components):
            return value
        if component_of(value) is not value:
            return component_of(value)
    return None


def linker(*attributes: str, owner: str | None = None) -> Callable[[Recorder], Wrapper]:
    """A wrapper factory for a synchronous method after which the instance's
    ``attributes`` hold helpers: each is linked to the instance, or to the component
    in the instance's ``owner`` attribute (a stream's ``_stt``)."""

    def factory(recorder: Recorder) -> Wrapper:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
            result = wrapped(*args, **kwargs)
            try:
                component = instance if owner is None else getattr(instance, owner, None)
                for name in attributes:
                    helper = getattr(instance, name, None)
                    if helper is not None and component is not None:
                        link(helper, component)
            except Exception:  # never the host's problem
                pass
            return result

        return wrapper

    return factory


def owner_links() -> HookedPatches:
    """The aspect that links each helper to its component when the component is built."""
    return HookedPatches(
        [HookedTarget(module, name, linker(*attrs)) for (module, name), attrs in _HELPERS.items()]
    )
