"""OTLP metrics receivers on loopback, built on the official ``opentelemetry-proto`` services.

Both keep every ``ExportMetricsServiceRequest`` they accept, and :func:`latest`
reduces them to what a backend would show::

    receiver = GrpcReceiver()  # HttpReceiver(): `await receiver.start()` / `.stop()`
    receiver.start()
    ...  # a process exports to receiver.endpoint
    totals = latest(receiver.requests)  # {metric name: Total(value, count)}
    receiver.stop()
"""

from __future__ import annotations

from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc  # type: ignore[import-untyped,unused-ignore]
from aiohttp import web
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc import (
    MetricsServiceServicer,
    add_MetricsServiceServicer_to_server,
)


class _Servicer(MetricsServiceServicer):  # type: ignore[misc,unused-ignore]
    def __init__(self, requests: list[ExportMetricsServiceRequest]) -> None:
        self.requests = requests

    def Export(
        self, request: ExportMetricsServiceRequest, context: grpc.ServicerContext
    ) -> ExportMetricsServiceResponse:
        self.requests.append(request)
        return ExportMetricsServiceResponse()


class GrpcReceiver:
    """``opentelemetry.proto.collector.metrics.v1.MetricsService`` over gRPC on 127.0.0.1.

    On a free port, or on ``port`` (``RuntimeError`` when it is taken).
    """

    protocol = "grpc"

    def __init__(self, port: int = 0) -> None:
        self.requests: list[ExportMetricsServiceRequest] = []
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        servicer = _Servicer(self.requests)
        add_MetricsServiceServicer_to_server(servicer, self._server)  # type: ignore[no-untyped-call]
        self.port = self._server.add_insecure_port(f"127.0.0.1:{port}")
        if port and self.port != port:  # older grpcio returns 0 instead of raising
            raise RuntimeError(f"cannot listen on 127.0.0.1:{port}")

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop(grace=None)


class HttpReceiver:
    """``POST /v1/metrics`` with a protobuf ``ExportMetricsServiceRequest``, on 127.0.0.1."""

    protocol = "http"

    def __init__(self) -> None:
        self.requests: list[ExportMetricsServiceRequest] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/metrics"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/metrics", self._export)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _export(self, request: web.Request) -> web.Response:
        if request.content_type != "application/x-protobuf":
            return web.Response(status=415)
        message = ExportMetricsServiceRequest()
        message.ParseFromString(await request.read())  # the exporter sends it uncompressed
        self.requests.append(message)
        body = ExportMetricsServiceResponse().SerializeToString()
        return web.Response(body=body, content_type="application/x-protobuf")


@dataclass(frozen=True)
class Total:
    """A metric summed over its series: a counter's value, a histogram's count and sum."""

    value: float
    count: int = 0


def latest(requests: list[ExportMetricsServiceRequest]) -> dict[str, Total]:
    """Each metric's total over its series, from the last cumulative point of each series."""
    series: dict[tuple[str, tuple[Any, ...]], tuple[int, Total]] = {}
    for request in requests:
        for resource in request.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for key, at, total in _points(metric):
                        previous = series.get((metric.name, key))
                        if previous is None or at >= previous[0]:
                            series[(metric.name, key)] = (at, total)
    totals: dict[str, Total] = {}
    for (name, _key), (_at, total) in series.items():
        old = totals.get(name, Total(0.0))
        totals[name] = Total(old.value + total.value, old.count + total.count)
    return totals


def _points(metric: Any) -> list[tuple[tuple[Any, ...], int, Total]]:
    kind = metric.WhichOneof("data")
    found = []
    for point in getattr(metric, kind).data_points:
        key = tuple(sorted((a.key, str(a.value)) for a in point.attributes))
        if kind == "histogram":
            total = Total(point.sum, point.count)
        else:
            total = Total(point.as_double if point.HasField("as_double") else point.as_int)
        found.append((key, point.time_unix_nano, total))
    return found
