"""Count the connection sites of the survey that this package times: ``timed N of 87 sites``.

Reads ``tools/connection_sites.tsv`` (the 87 rows of the survey of livekit-agents
1.8.9 and its first-party plugins) and, for each row, decides how it is timed:

* through a ``ConnectionPool`` (the pool patch),
* by a provider instrumentor (``instrumentors/<provider>.py``),
* by the websocket transport patch (``aiohttp`` / ``websockets`` handshakes of a
  model component), directly or inside a provider SDK,

or names why it is not.  Where the plugin or its SDK is installed, the tool
checks the installed code (the SDK really opens with ``aiohttp`` or
``websockets``; the plugin is importable); otherwise it says the survey decides.

    python tools/connection_coverage.py
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path

SITES = Path(__file__).with_name("connection_sites.tsv")
TRANSPORT = re.compile(r"ws_connect\(|websockets|aiohttp")
PROVIDER_MODULE_ROWS = {
    3,
    4,
    12,
    19,
    20,
    22,
    23,
    26,
    27,
    35,
    36,
    42,
    52,
    53,
    57,
    58,
    76,
    81,
    85,
    87,
}
"""Rows a provider instrumentor times (the transport patch would see the websockets
too, but not the gRPC calls: google's asynchronous streams only
``instrumentors/google.py`` sees, NVIDIA Riva's synchronous ones in a worker thread
only ``instrumentors/nvidia.py``, the Azure Speech SDK's native websocket only
``instrumentors/azure.py``; nor the reuses of a plugin's own shared connection:
elevenlabs, inworld and soniox TTS)."""
NATIVE_ROWS = {11: "the framework's own acquire time (1.5.2+), recorded by connections/native.py"}
"""Rows no patch of ours sees, whose acquisitions the framework reports itself."""
SDK_MODULES = {
    13: "azure.ai.voicelive.aio",
    37: "google.genai.live",
    38: "google.genai.live",
    59: "palabra_ai.stt",
    60: "palabra_ai.tts",
    61: "phonic.conversations.socket_client",
    78: "speechmatics.rt._transport",
    83: "engineio.async_client",
}
"""SDK-opened rows: the SDK module whose handshake the transport patch sees."""
NOT_TIMED = {
    5: "not a model component: the cloud end-of-turn detector's transport",
    6: "not a model component: the interruption (barge-in) detector",
    43: "not a model component: an avatar's meeting relay",
    44: "not a model component: an avatar session",
    77: "not a model component: an avatar session (spatius SDK)",
    10: "HTTP/2 event stream (awscrt, Python 3.12+ only), no websocket: needs an AWS patch",
}
"""Rows the transport patch cannot see, and why."""


@dataclass(frozen=True)
class Site:
    row: int
    plugin: str
    component: str
    where: str
    mechanism: str
    pooled: bool


def read_sites(path: Path = SITES) -> list[Site]:
    """The survey's rows."""
    sites = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            row, plugin, component, where, mechanism, pooled = line.split("\t")
            sites.append(
                Site(int(row), plugin, component, where, mechanism, pooled.startswith("yes"))
            )
    return sites


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def plugin_module(site: Site) -> str:
    if site.plugin.startswith("livekit-agents"):
        return "livekit.agents"
    return "livekit.plugins." + site.plugin.replace("-", "_").replace("minimax_ai", "minimax")


def sdk_check(module: str) -> str:
    """How the transport patch sees an SDK's connection, checked in its code if installed."""
    spec = importlib.util.find_spec(module) if installed(module) else None
    if spec is None or not spec.origin:
        return f"transport patch, inside the SDK ({module} not installed here: per the survey)"
    source = Path(spec.origin).read_text(encoding="utf-8")
    if TRANSPORT.search(source):
        return f"transport patch, inside the SDK ({module} checked: opens with aiohttp/websockets)"
    return ""


def how_timed(site: Site) -> tuple[bool, str]:
    """(timed, how or why not) for one row."""
    if site.row in NOT_TIMED:
        return False, NOT_TIMED[site.row]
    if site.row in NATIVE_ROWS:
        return True, NATIVE_ROWS[site.row]
    if site.row in PROVIDER_MODULE_ROWS:
        return True, "provider instrumentor"
    if site.pooled:
        return True, "pool patch (ConnectionPool.get)"
    if site.row in SDK_MODULES:
        found = sdk_check(SDK_MODULES[site.row])
        return (
            (True, found) if found else (False, "its SDK opens with neither aiohttp nor websockets")
        )
    if TRANSPORT.search(site.mechanism):
        return True, "transport patch (" + site.mechanism.split(",")[0].strip("`") + ")"
    return False, f"unclassified mechanism: {site.mechanism}"


def main() -> int:
    sites = read_sites()
    timed = 0
    for site in sites:
        ok, how = how_timed(site)
        timed += ok
        here = "installed" if installed(plugin_module(site)) else "not installed"
        mark = "timed" if ok else "LEFT OUT"
        print(f"{site.row:>3} {site.plugin:<14} {site.component[:34]:<34} {here:<13} {mark}: {how}")
    print(f"timed {timed} of {len(sites)} sites")
    return 0


if __name__ == "__main__":
    sys.exit(main())
