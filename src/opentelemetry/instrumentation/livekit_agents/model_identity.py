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
from dataclasses import dataclass
from typing import Any

_logger = logging.getLogger(__name__)

UNKNOWN = "unknown"
MAX_VALUE_LENGTH = 128
_PLUGIN_PREFIX = "livekit.plugins."
_NOT_KEY_CHARS = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class ModelIdentity:
    """The model attributes of one component and the provider switch key."""

    model_name: str
    model_provider: str
    provider_key: str
    """Lower-case plugin name (``deepgram``, ``openai``) used by the provider switch."""

    def attributes(self) -> dict[str, str]:
        """The attributes every model-keyed data point carries."""
        return {"model_name": self.model_name, "model_provider": self.model_provider}


UNKNOWN_IDENTITY = ModelIdentity(UNKNOWN, UNKNOWN, UNKNOWN)


def identify(component: object) -> ModelIdentity:
    """The identity of an STT, TTS, LLM or realtime component; never raises."""
    try:
        plugin = plugin_name(type(component).__module__)
        provider = _declared(component, "provider") or plugin or UNKNOWN
        model = _declared(component, "model") or _option_model(component) or UNKNOWN
        return ModelIdentity(model, provider, plugin or normalize_provider(provider))
    except Exception:  # a plugin property that raises must not reach the caller
        _logger.debug("cannot identify %r", type(component), exc_info=True)
        return UNKNOWN_IDENTITY


def with_metadata(identity: ModelIdentity, metadata: object) -> ModelIdentity:
    """``identity`` with the unknowns filled from the framework's own metadata.

    ``metadata`` is a ``Metadata`` model (metrics events, 1.2.12+) or a
    ``MetricsMetadata`` dict (turn reports, 1.5.2+), or None.
    """
    if metadata is None:
        return identity

    def field(name: str) -> str | None:
        value = metadata.get(name) if isinstance(metadata, dict) else getattr(metadata, name, None)
        return bounded(value)

    model = identity.model_name
    provider = identity.model_provider
    if model == UNKNOWN:
        model = field("model_name") or model
    if provider == UNKNOWN:
        provider = field("model_provider") or provider
    return ModelIdentity(model, provider, identity.provider_key)


def identify_module(module: str) -> ModelIdentity:
    """The identity of code that belongs to no component object, by its module."""
    plugin = plugin_name(module)
    if plugin is None:
        return UNKNOWN_IDENTITY
    return ModelIdentity(UNKNOWN, plugin, plugin)


def plugin_name(module: str) -> str | None:
    """``deepgram`` for ``livekit.plugins.deepgram.stt``, else None."""
    if not module.startswith(_PLUGIN_PREFIX):
        return None
    return module[len(_PLUGIN_PREFIX) :].split(".", 1)[0] or None


def normalize_provider(name: str) -> str:
    """The provider switch key for a user-given or declared provider name."""
    return _NOT_KEY_CHARS.sub("_", name.strip().lower()).strip("_") or UNKNOWN


def bounded(value: object) -> str | None:
    """A safe attribute value: a non-empty string, no URL credentials, bounded length."""
    if not isinstance(value, str):
        return None
    # openai-compatible plugins report their base URL's host as the provider;
    # keep the host, never a user:password@ prefix.
    value = value.rsplit("@", 1)[-1].strip()
    if not value or value == UNKNOWN:
        return None
    return value[:MAX_VALUE_LENGTH]


def _declared(component: object, name: str) -> str | None:
    return bounded(getattr(component, name, None))


def _option_model(component: object) -> str | None:
    # Plugins keep their constructor options in ``_opts``; most name the model ``model``.
    options: Any = getattr(component, "_opts", None)
    return bounded(getattr(options, "model", None))
