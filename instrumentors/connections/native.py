"""The acquisitions that livekit-agents (1.5.2+) times itself, recorded as our points too.

The framework reports an acquisition on the ``STTMetrics``, ``TTSMetrics`` or
``RealtimeModelMetrics`` event of the component (``acquire_time`` > 0,
``connection_reused``) and records it in ``otel_metrics.collect_usage``, which
:mod:`..coexistence` suspends in the default mode.  For sites that no patch of
ours times (Gemini Live, Nova Sonic, Ultravox, Phonic, ...), this is the only
measurement there is, so the usage route hands each such event here.

The rule against double counting, one point per acquisition:

1. A native report made while one of our acquisition wrappers is timing, in
   the same task (a plugin's ``_connect_ws`` that calls
   ``_report_connection_acquired`` before it returns), is that acquisition: it
   is not recorded, and our point, recorded when the wrapper returns, stands.
   So is a report made inside a stream whose SDK connection we time
   (:mod:`.openers`: Google STT reports its pool's client, not a connection).
2. Every other new connection that one of our patches records (any
   ``Recorder.record_acquire_time`` with ``reused=False`` and no error: the
   pool patch, the provider patches, the websocket handshake timing) leaves one
   credit on its model identity (model name, provider, switch key); a later
   native report of that identity spends a credit instead of being recorded
   (a TTS reports its pool acquisition on the metrics event at the end of the
   stream that used it).
3. A native report that neither rule claims is an acquisition we did not time,
   and is recorded with the framework's own value.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from opentelemetry.context import Context

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.acquisition import (
    current_acquisition,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.openers import (
    current_opener,
)
from opentelemetry.instrumentation.livekit_agents.model_identity import MAX_CACHED, ModelIdentity

if TYPE_CHECKING:  # the recorder imports this module
    from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

_credits: dict[ModelIdentity, int] = {}
_lock = threading.Lock()  # components of one identity may acquire on several threads


def credit_own_acquisition(identity: ModelIdentity) -> None:
    """Note that one of our patches recorded a new connection for ``identity``."""
    with _lock:
        if len(_credits) >= MAX_CACHED and identity not in _credits:
            _credits.clear()  # a pathological number of identities: bounded memory
        _credits[identity] = _credits.get(identity, 0) + 1


def spend_credit(identity: ModelIdentity) -> bool:
    """True (and one credit fewer) when we already recorded this acquisition."""
    with _lock:
        left = _credits.get(identity, 0)
        if left <= 0:
            return False
        if left == 1:
            del _credits[identity]
        else:
            _credits[identity] = left - 1
        return True


def forget_credits() -> None:
    """Drop every credit (at ``uninstrument()``: a later session starts afresh)."""
    with _lock:
        _credits.clear()


def record_native_acquisition(
    recorder: Recorder, identity: ModelIdentity, metrics: object, context: Context
) -> None:
    """Record the acquisition a metrics event reports, unless we already timed it.

    Events before 1.5.2 have no ``acquire_time``; the framework records only
    ``acquire_time > 0`` (0.0 means "this event reports no acquisition"), so do we.
    """
    seconds = getattr(metrics, "acquire_time", 0.0)
    if type(seconds) not in (float, int) or not seconds > 0:
        return
    timing = current_acquisition()
    if timing is not None:  # rule 1: we are timing this very acquisition
        timing.reported = True
        return
    if current_opener() is not None:  # rule 1: we time this stream's SDK call instead
        return
    if spend_credit(identity):  # rule 2
        return
    reused = getattr(metrics, "connection_reused", False) is True
    recorder.record_acquire_time(identity, float(seconds), reused, None, context, native=True)
