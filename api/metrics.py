"""The Prometheus exposition of the lab's state, through the standard client library:
records in, text out. A collector built per request from what the state store holds (no
process-wide registry: several processes serve the same state, each request reads it
fresh)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from lab.baselines.records import ResetRecord
from lab.labs.records import LabRecord, LabStatus

RESET_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Snapshot(Collector):
    def __init__(
        self,
        labs: list[LabRecord],
        operations: dict[tuple[str, str], int],
        resets: list[ResetRecord],
        unauthenticated: int,
    ) -> None:
        self.labs = labs
        self.operations = operations
        self.resets = resets
        self.unauthenticated = unauthenticated

    def collect(self) -> Iterator[Metric]:
        by_status = Counter(lab.status for lab in self.labs)
        labs = GaugeMetricFamily("hromada_labs", "Labs by status.", labels=["status"])
        for status in LabStatus:
            labs.add_metric([status.value], by_status[status])
        yield labs
        yield GaugeMetricFamily(
            "hromada_machines",
            "Machines of all labs.",
            value=sum(len(lab.plan.machines) for lab in self.labs),
        )
        operations = GaugeMetricFamily(
            "hromada_operations",
            "Operations recorded, by kind and status.",
            labels=["kind", "status"],
        )
        for (kind, state), count in sorted(self.operations.items()):
            operations.add_metric([kind, state], count)
        yield operations
        yield self._reset_seconds()
        yield CounterMetricFamily(
            "hromada_unauthenticated_requests",
            "Mutating requests that named no user (counted, not audited one by one).",
            value=self.unauthenticated,
        )

    def _reset_seconds(self) -> HistogramMetricFamily:
        family = HistogramMetricFamily(
            "hromada_reset_seconds", "Duration of resets to verified-ready.", labels=["mode", "ok"]
        )
        for mode in sorted({r.mode for r in self.resets}):
            for ok in (True, False):
                mine = [r.seconds for r in self.resets if r.mode == mode and r.ok == ok]
                if not mine:
                    continue
                buckets = [(f"{le:g}", sum(1 for s in mine if s <= le)) for le in RESET_BUCKETS]
                family.add_metric(
                    [str(mode), str(ok).lower()],
                    [*buckets, ("+Inf", len(mine))],
                    sum_value=sum(mine),
                )
        return family


def render(
    labs: list[LabRecord],
    operations: dict[tuple[str, str], int],
    resets: list[ResetRecord],
    unauthenticated: int = 0,
) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(labs, operations, resets, unauthenticated))
    return generate_latest(registry).decode("utf-8")
