"""The methods a provider instrumentor patches, for tests that check the patches are
applied and undone."""

from __future__ import annotations

from opentelemetry.sdk.metrics import MeterProvider

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor


class PatchedMethods:
    """``(class, method name)`` pairs, read as they are now."""

    def __init__(self, *targets: tuple[type, str]) -> None:
        self.targets = targets

    def current(self) -> list[object]:
        return [getattr(owner, name) for owner, name in self.targets]

    def unchanged_since(self, before: list[object]) -> bool:
        # by identity: a wrapt wrapper compares equal to the function it wraps
        return all(now is then for now, then in zip(self.current(), before))


def assert_uninstrument_restores(methods: PatchedMethods, meter_provider: MeterProvider) -> None:
    """``instrument()`` patches every one of ``methods``; ``uninstrument()`` restores them."""
    before = methods.current()
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider)
    try:
        during = methods.current()
    finally:
        instrumentor.uninstrument()
    assert all(d is not b for d, b in zip(during, before)), "every target was patched"
    assert methods.unchanged_since(before)
