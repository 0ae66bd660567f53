"""The aspects: one module per patched framework target and one per provider.

Each target module offers ``instrument(recorder)`` and ``uninstrument()``;
``AgentsInstrumentor`` applies them in order.
"""
