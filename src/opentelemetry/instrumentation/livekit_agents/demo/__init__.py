"""The demo and the simulation: a LiveKit voice agent without a server, a room or keys.

Shipped with the package but never imported by the instrumentation; install the
``demo`` extra, which brings livekit-agents, the OpenTelemetry SDK and the OTLP and
Prometheus exporters::

    pip install 'opentelemetry-instrumentation-livekit-agents[demo]'
    python -m opentelemetry.instrumentation.livekit_agents.demo --help

:mod:`.simulation` holds the scripted components that drive a real
``AgentSession`` in-process, for checking an agent of one's own.
"""
