"""The per-provider switch: which providers' components are recorded.

A provider is off when any source says so: the ``providers`` allow-list or
``exclude_providers`` given to ``instrument()``, the
``OTEL_PYTHON_LIVEKIT_AGENTS_PROVIDERS`` /
``OTEL_PYTHON_LIVEKIT_AGENTS_EXCLUDED_PROVIDERS`` variables, or
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` naming ``livekit_agents_<provider>``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from opentelemetry.instrumentation.livekit_agents.model_identity import normalize_provider, remember

PROVIDERS_ENV = "OTEL_PYTHON_LIVEKIT_AGENTS_PROVIDERS"
EXCLUDED_PROVIDERS_ENV = "OTEL_PYTHON_LIVEKIT_AGENTS_EXCLUDED_PROVIDERS"
DISABLED_INSTRUMENTATIONS_ENV = "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"
PROVIDER_ENTRY_POINT_PREFIX = "livekit_agents_"


@dataclass(frozen=True)
class ProviderSwitch:
    """Decides, per provider key, whether its data points are recorded."""

    allow_lists: tuple[frozenset[str], ...] = ()
    excluded: frozenset[str] = frozenset()

    def allows(self, provider_key: str) -> bool:
        """True when no source switches this provider off."""
        if provider_key in self.excluded:
            return False
        return all(provider_key in allowed for allowed in self.allow_lists)

    @classmethod
    def from_settings(
        cls,
        providers: Iterable[str] | None = None,
        exclude_providers: Iterable[str] | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> ProviderSwitch:
        """Combine the keyword arguments and the environment."""
        allow_lists = [_keys(providers)] if providers is not None else []
        if environ.get(PROVIDERS_ENV, "").strip():
            allow_lists.append(_keys(_split(environ[PROVIDERS_ENV])))
        excluded = _keys(exclude_providers or ())
        excluded |= _keys(_split(environ.get(EXCLUDED_PROVIDERS_ENV, "")))
        excluded |= _disabled_provider_entry_points(environ)
        return cls(tuple(allow_lists), excluded)


class SwitchAnswers(dict[str, bool]):
    """``switch.allows`` answered once per provider (the switch never changes), so
    each event asks a dict, not the switch: ``answers[provider_key]``."""

    def __init__(self, switch: ProviderSwitch) -> None:
        super().__init__()
        self._switch = switch

    def __missing__(self, provider_key: str) -> bool:
        return remember(self, provider_key, self._switch.allows(provider_key))


def _split(value: str) -> list[str]:
    return [item for item in (part.strip() for part in value.split(",")) if item]


def _keys(names: Iterable[str]) -> frozenset[str]:
    if isinstance(names, str):  # a lone name where a list was meant
        names = [names]
    return frozenset(normalize_provider(name) for name in names)


def _disabled_provider_entry_points(environ: Mapping[str, str]) -> frozenset[str]:
    disabled = _split(environ.get(DISABLED_INSTRUMENTATIONS_ENV, ""))
    return _keys(
        name[len(PROVIDER_ENTRY_POINT_PREFIX) :]
        for name in disabled
        if name.startswith(PROVIDER_ENTRY_POINT_PREFIX)
    )
