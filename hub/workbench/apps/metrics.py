"""A tool gateway's metrics for Prometheus: ``/services/<tool>/metrics``.

Read with a hub token that has the scope ``read:metrics`` (the ``prometheus`` service's, see
:mod:`workbench.monitoring`); anyone else gets 403. The series, each labelled with the tool's name
(``tool``):

- ``workbench_tool_up``: 1 while the tool's Voila answers, 0 while it starts or after it failed;
- ``workbench_tool_visitors``: pages being rendered plus pages holding a kernel connection (what
  ``kernels.max`` of the tool's ``app.yaml`` caps, given as ``workbench_tool_visitors_max``);
- ``workbench_tool_kernel_sockets``: kernel websockets open through the gateway;
- ``workbench_tool_dropped_messages_total``: visitors' kernel messages the filter dropped (a rising
  count is someone probing the kernel, or a widget the filter does not know).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from tornado import web

from workbench.apps.gatekeeper import ToolState

SCOPE = "read:metrics"


class ToolCollector(Collector):
    """The series of one gateway, read from its :class:`ToolState` at each scrape."""

    def __init__(self, state: ToolState) -> None:
        self.state = state

    def collect(self) -> list[Metric]:
        s, name = self.state, self.state.spec.name

        def gauge(metric: str, doc: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(metric, doc, labels=["tool"])
            family.add_metric([name], value)
            return family

        dropped = CounterMetricFamily(
            "workbench_tool_dropped_messages", "Visitors' kernel messages the filter dropped", labels=["tool"]
        )
        dropped.add_metric([name], s.dropped_messages)
        return [
            gauge(
                "workbench_tool_up",
                "1 while the tool's Voila answers",
                float(s.ready.is_set() and not s.failed),
            ),
            gauge("workbench_tool_visitors", "Pages being rendered or holding a kernel", s.visitors),
            gauge("workbench_tool_visitors_max", "The tool's kernels.max", s.spec.kernels.max),
            gauge("workbench_tool_kernel_sockets", "Kernel websockets open", s.kernel_sockets),
            dropped,
        ]


class MetricsHandler(web.RequestHandler):
    """``GET <prefix>metrics``: the exposition text, for a token with :data:`SCOPE`."""

    def initialize(self, state: ToolState, hub_auth: object) -> None:  # type: ignore[override]
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(ToolCollector(state))
        self.hub_auth = hub_auth

    async def get(self) -> None:
        model = await self.hub_auth.get_user(self, sync=False)  # type: ignore[attr-defined]
        if not model or SCOPE not in (model.get("scopes") or []):
            raise web.HTTPError(403, f"reading a tool's metrics needs a hub token with {SCOPE}")
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.set_header("Cache-Control", "no-store")
        self.finish(generate_latest(self.registry))
