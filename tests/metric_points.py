"""Reading exported data points back from an ``InMemoryMetricReader``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Metric, MetricsData

from opentelemetry.instrumentation.livekit_agents.instruments import ATTRIBUTE_KEYS

ALLOWED_KEYS = ATTRIBUTE_KEYS
"""Every attribute key the package may put on a data point (the catalogue's)."""


def collect(reader: InMemoryMetricReader) -> dict[str, Metric]:
    """Every metric the reader sees now, by name (cumulative temporality)."""
    data: MetricsData | None = reader.get_metrics_data()
    metrics: dict[str, Metric] = {}
    if data is None:
        return metrics
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                metrics[metric.name] = metric
    return metrics


def points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    """The data points of one metric, or [] when it was never recorded."""
    metric = collect(reader).get(name)
    return list(metric.data.data_points) if metric is not None else []


def attrs(point: Any) -> dict[str, Any]:
    return dict(point.attributes or {})


async def wait_for_points(
    reader: InMemoryMetricReader, name: str, timeout: float = 5.0
) -> list[Any]:
    """The metric's data points once there are some, or [] after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = points(reader, name)
        if found:
            return found
        await asyncio.sleep(0.01)
    return []
