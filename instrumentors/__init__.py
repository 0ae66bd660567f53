"""The aspects: one module per feature of the framework, one per provider.

Each feature module holds an aspect (:class:`.aspect.Aspect`): an object with
``instrument(recorder)`` and ``uninstrument()`` that owns its patch points and
their state.  ``AgentsInstrumentor`` creates them and lists them in one place
(``create_aspects``).  The provider modules hold one ``ProviderInstrumentor``
each, which ``AgentsInstrumentor`` instruments too.
"""
