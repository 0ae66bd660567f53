"""Acquire one connection from a real ConnectionPool, then exit.

Run under ``opentelemetry-instrument`` by test_auto_instrumentation.py; it does
not instrument anything itself.
"""

from __future__ import annotations

import asyncio
import inspect

from livekit.agents import utils


class ScriptedOwner:
    provider = "scripted"
    model = "scripted-model"

    async def connect(self, timeout: float = 1.0) -> object:
        await asyncio.sleep(0.02)
        return object()


async def main() -> None:
    pool: utils.ConnectionPool[object] = utils.ConnectionPool(connect_cb=ScriptedOwner().connect)
    if "timeout" in inspect.signature(utils.ConnectionPool.get).parameters:
        await pool.get(timeout=1.0)
    else:
        await pool.get()
    print("acquired")


asyncio.run(main())
