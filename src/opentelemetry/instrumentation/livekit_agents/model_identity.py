"""Which model and provider a framework component stands for.

The ``model_name`` / ``model_provider`` attributes match the framework's own
metrics (its ``Metadata``), so dashboards work with either source.  The
component's ``model`` / ``provider`` properties exist from livekit-agents
1.2.12; before that, or where a plugin leaves them at ``"unknown"``, the
values come from the plugin's options and its package name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, TypeVar

from opentelemetry.instrumentation.livekit_agents.instruments import MODEL_KEYS, attribute_set
from opentelemetry.instrumentation.livekit_agents.value_checks import attribute_text

_logger = logging.getLogger(__name__)

UNKNOWN = "unknown"
MAX_VALUE_LENGTH = 128
_PLUGIN_PREFIX = "livekit.plugins."
_NOT_KEY_CHARS = re.compile(r"[^a-z0-9]+")
_T = TypeVar("_T")
_K = TypeVar("_K")
_V = TypeVar("_V")
MAX_CACHED = 1024
"""Distinct identities remembered; a process sees a handful, so this bound is never hit
in practice and only stops a pathological plugin from growing the caches forever."""


@dataclass(frozen=True)
class ModelIdentity:
    """The model attributes of one component and the provider switch key."""

    model_name: str
    model_provider: str
    provider_key: str
    """Lower-case plugin name (``deepgram``, ``openai``) used by the provider switch."""

    def attributes(self) -> dict[str, str]:
        """The attributes every model-keyed data point carries, in a new dict."""
        return attribute_set(MODEL_KEYS, self.model_name, self.model_provider)

    @cached_property
    def complete(self) -> bool:
        """Both the model and its provider are known: no metadata has anything to add."""
        return self.model_name != UNKNOWN and self.model_provider != UNKNOWN

    @cached_property
    def shared_attributes(self) -> Mapping[str, str]:
        """The same attributes built once per identity, shared by every data point.

        Read-only: the SDK copies what it keeps, and nothing here may mutate it.
        """
        return self.attributes()

    def derived(self, kind: str, build: Callable[[ModelIdentity, str], _T], arg: str) -> _T:
        """``build(self, arg)``, computed once per identity and ``kind``, then shared.

        For the attribute sets that extend ``shared_attributes`` (an acquisition's
        outcome, a GenAI operation): an identity never changes, so neither do they,
        and a string key is cheaper to find than a key holding the identity.
        """
        cache = self._derived
        try:
            return cache[kind]  # type: ignore[return-value]  # cast() is a call, on every point
        except KeyError:
            value = cache[kind] = build(self, arg)
            return value

    @cached_property
    def _derived(self) -> dict[str, object]:
        return {}


UNKNOWN_IDENTITY = ModelIdentity(UNKNOWN, UNKNOWN, UNKNOWN)

# identify() is a pure function of the component's class and its raw model and
# provider values, so it is memoised on exactly those: a changed value (e.g.
# ``update_options(model=...)``) is a different key, never a stale identity.
# Only str/None values are keys, so no component or session is held alive.  A
# None value marks a (class, provider, model) whose options decide the model.
_identities: dict[tuple[object, ...], ModelIdentity | None] = {}
_interned: dict[tuple[str, str, str], ModelIdentity] = {}


def identify(component: object) -> ModelIdentity:
    """The identity of an STT, TTS, LLM or realtime component; never raises."""
    try:
        cls = type(component)
        provider = getattr(component, "provider", None)
        model = getattr(component, "model", None)
        key: tuple[object, ...] = (cls, provider, model)
        try:
            identity = _identities[key]
        except (KeyError, TypeError):  # not seen yet, or an unhashable value
            identity = None
        return identity or _identify(component, cls, provider, model, key)
    except Exception:  # a plugin property that raises must not reach the caller
        _logger.debug("cannot identify %r", type(component), exc_info=True)
        return UNKNOWN_IDENTITY


def _identify(
    component: object, cls: type, provider: object, model: object, key: tuple[object, ...]
) -> ModelIdentity:
    plugin = plugin_name(cls.__module__)
    declared_model = bounded(model)
    if declared_model is None:
        # the options are read only when the declared model does not decide
        option = getattr(getattr(component, "_opts", None), "model", None)
        cacheable = _is_key(provider, model, option)
        if cacheable:
            remember(_identities, key, None)
        key = (*key, option)
        identity = _identities.get(key) if cacheable else None
        if identity is None:
            identity = _identify_values(plugin, bounded(provider), bounded(option))
    else:
        cacheable = _is_key(provider, model)
        identity = _identify_values(plugin, bounded(provider), declared_model)
    if cacheable:
        remember(_identities, key, identity)
    return identity


def _identify_values(plugin: str | None, provider: str | None, model: str | None) -> ModelIdentity:
    provider = provider or plugin or UNKNOWN
    return interned(model or UNKNOWN, provider, plugin or normalize_provider(provider))


def _is_key(*values: object) -> bool:
    return all(value is None or type(value) is str for value in values)


def remember(cache: dict[_K, _V], key: _K, value: _V) -> _V:
    """``cache[key] = value`` in a cache of at most ``MAX_CACHED`` entries; ``value``."""
    if len(cache) >= MAX_CACHED:
        cache.clear()
    cache[key] = value
    return value


def interned(model: str, provider: str, provider_key: str) -> ModelIdentity:
    """The one ``ModelIdentity`` of these values, so its shared attributes are built once."""
    key = (model, provider, provider_key)
    identity = _interned.get(key)
    if identity is None:
        identity = remember(_interned, key, ModelIdentity(model, provider, provider_key))
    return identity


def with_metadata(identity: ModelIdentity, metadata: object) -> ModelIdentity:
    """``identity`` with the unknowns filled from the framework's own metadata.

    ``metadata`` is a ``Metadata`` model (metrics events, 1.2.12+) or a
    ``MetricsMetadata`` dict (turn reports, 1.5.2+), or None.  Hot paths skip the
    call for a ``complete`` identity, which this returns unchanged.
    """
    if metadata is None or identity.complete:
        return identity
    model = identity.model_name
    provider = identity.model_provider

    def field(name: str) -> str | None:
        value = metadata.get(name) if isinstance(metadata, dict) else getattr(metadata, name, None)
        return bounded(value)

    if model == UNKNOWN:
        model = field("model_name") or model
    if provider == UNKNOWN:
        provider = field("model_provider") or provider
    return interned(model, provider, identity.provider_key)


def identify_module(module: str) -> ModelIdentity:
    """The identity of code that belongs to no component object, by its module."""
    plugin = plugin_name(module)
    if plugin is None:
        return UNKNOWN_IDENTITY
    return interned(UNKNOWN, plugin, plugin)


def plugin_name(module: str) -> str | None:
    """``deepgram`` for ``livekit.plugins.deepgram.stt``, else None."""
    if not module.startswith(_PLUGIN_PREFIX):
        return None
    return module[len(_PLUGIN_PREFIX) :].split(".", 1)[0] or None


def normalize_provider(name: str) -> str:
    """The provider switch key for a user-given or declared provider name."""
    return _NOT_KEY_CHARS.sub("_", name.strip().lower()).strip("_") or UNKNOWN


def bounded(value: object) -> str | None:
    """A safe attribute value: a non-empty string, valid UTF-8, no URL query,
    fragment or user info (:func:`.value_checks.attribute_text`), bounded length."""
    if not isinstance(value, str):
        return None
    # openai-compatible plugins report their base URL's host as the provider
    value = attribute_text(value).strip()
    if not value or value == UNKNOWN:
        return None
    return value[:MAX_VALUE_LENGTH]
