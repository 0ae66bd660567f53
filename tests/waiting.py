"""Waiting for a condition instead of sleeping a fixed time.

A fixed sleep is either too short on a busy machine (the test fails for the wrong
reason) or too long everywhere; these poll the condition itself, with a timeout
generous enough for a loaded 2-core machine, and fail naming what never happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

TIMEOUT = 20.0
"""Seconds: far beyond any scripted delay, so only a condition that never holds fails."""


async def wait_until(predicate: Callable[[], object], what: str, timeout: float = TIMEOUT) -> None:
    """Return once ``predicate()`` is true; fail after ``timeout`` seconds naming ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        await asyncio.sleep(0.01)


def wait_until_sync(predicate: Callable[[], object], what: str, timeout: float = TIMEOUT) -> None:
    """:func:`wait_until` for code outside an event loop (subprocesses, servers)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.01)
