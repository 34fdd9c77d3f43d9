"""The Prometheus text exposition of the lab's state (pure: records in, text out)."""

from __future__ import annotations

from collections import Counter

from lab.store.state import LabRecord, LabStatus, ResetRecord

RESET_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


def render(
    labs: list[LabRecord],
    operations: dict[tuple[str, str], int],
    resets: list[ResetRecord],
    unauthenticated: int = 0,
) -> str:
    lines: list[str] = []

    def metric(name: str, kind: str, text: str) -> None:
        lines.extend([f"# HELP {name} {text}", f"# TYPE {name} {kind}"])

    metric("hromada_labs", "gauge", "Labs by status.")
    by_status = Counter(lab.status for lab in labs)
    lines += [f'hromada_labs{{status="{s}"}} {by_status[s]}' for s in LabStatus]
    metric("hromada_machines", "gauge", "Machines of all labs.")
    lines.append(f"hromada_machines {sum(len(lab.plan.machines) for lab in labs)}")
    metric("hromada_operations", "gauge", "Operations recorded, by kind and status.")
    lines += [
        f'hromada_operations{{kind="{k}",status="{s}"}} {n}'
        for (k, s), n in sorted(operations.items())
    ]
    metric("hromada_reset_seconds", "histogram", "Duration of resets to verified-ready.")
    for mode in sorted({r.mode for r in resets}):
        for ok in (True, False):
            mine = [r.seconds for r in resets if r.mode == mode and r.ok == ok]
            if not mine:
                continue
            labels = f'mode="{mode}",ok="{str(ok).lower()}"'
            for le in RESET_BUCKETS:
                count = sum(1 for s in mine if s <= le)
                lines.append(f'hromada_reset_seconds_bucket{{{labels},le="{le:g}"}} {count}')
            lines.append(f'hromada_reset_seconds_bucket{{{labels},le="+Inf"}} {len(mine)}')
            lines.append(f"hromada_reset_seconds_sum{{{labels}}} {sum(mine):.3f}")
            lines.append(f"hromada_reset_seconds_count{{{labels}}} {len(mine)}")
    metric(
        "hromada_unauthenticated_requests_total",
        "counter",
        "Mutating requests that named no user (counted, not audited one by one).",
    )
    lines.append(f"hromada_unauthenticated_requests_total {unauthenticated}")
    return "\n".join(lines) + "\n"
