"""The drill report: per step, when the trigger came, when the officers acted and approved, what
went out on each medium, and what a rule or a person missed (docs/drills.md, *The report*).

Reports are kept as JSON under `<var_dir>/drills/reports/`, one per run, so that drills of the
same scenario can be compared.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class Sent(BaseModel):
    model_config = ConfigDict(frozen=True)

    channel: str
    dispatches: int
    accepted: int
    # Seconds from the step's trigger to the first accepted send on the channel.
    first_s: float | None = None


class AlertOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    identifier: str
    kind: str
    status: str
    msg_type: str
    headline: str = ""
    held: bool = False
    # Seconds from the trigger: routed (the rules decided), approved (the second officer).
    routed_s: float | None = None
    approved_s: float | None = None
    sent: tuple[Sent, ...] = ()


class StepReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int
    note: str
    input: str
    # Seconds from the drill's start, as run (the scenario's time divided by the speed).
    trigger_s: float
    # Who put the input in: the source for a telegram, the officer for their own message.
    actor: str
    alerts: tuple[AlertOutcome, ...] = ()
    refused: str | None = None
    missed: tuple[str, ...] = ()


class DrillReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    scenario: str
    tenant: str
    started: str
    speed: float
    sandbox: str
    steps: tuple[StepReport, ...]
    leaks: int = Field(default=0, description="sends that left the sandbox's outbox: always 0")

    @property
    def missed(self) -> int:
        return sum(len(s.missed) for s in self.steps)

    @property
    def alerts(self) -> int:
        return sum(len(s.alerts) for s in self.steps)

    def approval_times(self) -> list[float]:
        return [a.approved_s for s in self.steps for a in s.alerts if a.approved_s is not None]

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        stamp = self.started.replace(":", "").replace("-", "")[:15]
        path = folder / f"{stamp}-{_slug(self.scenario)}.json"
        path.write_text(self.model_dump_json(indent=1), encoding="utf-8")
        return path


def _slug(name: str) -> str:
    kept = "".join(ch if ch.isalnum() else "-" for ch in name.lower())
    return kept.strip("-")[:40] or "drill"


def load_reports(folder: Path) -> list[DrillReport]:
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            out.append(DrillReport.model_validate(json.loads(path.read_text(encoding="utf-8"))))
        except ValueError:
            continue
    return out


def _s(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f} s"


def text(report: DrillReport) -> str:
    """The report as the officers read it after the drill."""
    lines = [
        f"訓練報告 / drill report: {report.scenario} ({report.tenant}), started {report.started}, "
        f"speed x{report.speed:g}",
        f"sandbox: {report.sandbox} (everything Exercise; outbox only; sends outside the sandbox: {report.leaks})",
    ]
    for s in report.steps:
        lines.append(f"step {s.index} at {s.trigger_s:.1f} s: {s.note or s.input} [{s.input}] by {s.actor}")
        if s.refused:
            lines.append(f"  refused: {s.refused}")
        for a in s.alerts:
            held = f", held; approved after {_s(a.approved_s)}" if a.held else ""
            lines.append(
                f"  {a.msg_type} {a.kind} {a.status} {a.identifier}: routed after {_s(a.routed_s)}{held}"
            )
            for x in a.sent:
                lines.append(
                    f"    {x.channel:<12} {x.accepted}/{x.dispatches} out, first after {_s(x.first_s)}"
                )
            if not a.sent:
                lines.append("    (no medium carried it)")
        for m in s.missed:
            lines.append(f"  MISSED: {m}")
    approvals = report.approval_times()
    lines.append(
        f"total: {len(report.steps)} steps, {report.alerts} messages, {report.missed} missed"
        + (f", approval {min(approvals):.1f}–{max(approvals):.1f} s" if approvals else "")
    )
    return "\n".join(lines)


def compare(reports: list[DrillReport]) -> str:
    """One line per kept run, oldest first: the figures to compare drills of a scenario by."""
    lines = ["started               scenario                         steps msgs missed approval(max)"]
    for r in reports:
        approvals = r.approval_times()
        lines.append(
            f"{r.started[:19]:<21} {r.scenario[:32]:<32} {len(r.steps):>5} {r.alerts:>4} {r.missed:>6} "
            f"{(f'{max(approvals):.1f} s' if approvals else '-'):>12}"
        )
    return "\n".join(lines)
