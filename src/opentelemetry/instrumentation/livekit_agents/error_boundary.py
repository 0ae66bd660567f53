"""The error boundary of every wrapper: our own bug never reaches the host application."""

from __future__ import annotations

import functools
import logging
from typing import Callable, TypeVar

from typing_extensions import ParamSpec

_logger = logging.getLogger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")

DROPPED = "livekit-agents instrumentation dropped a data point"


def never_raises(func: Callable[_P, _R | None]) -> Callable[_P, _R | None]:
    """Run ``func``; on any exception log it at debug level and return None."""

    @functools.wraps(func)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R | None:
        try:
            return func(*args, **kwargs)
        except Exception:
            _logger.debug(DROPPED, exc_info=True)
            return None

    return guarded
