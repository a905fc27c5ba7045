"""The part every tool's report shares. Reports are flat: findings plus the tool's own fields."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from dbsage.tools import __version__
from dbsage.tools.findings import Finding, Severity

SCHEMA_VERSION = "1"


class Report(BaseModel):
    """Base of each tool's report model."""

    model_config = ConfigDict(extra="forbid")

    schema_version: str = SCHEMA_VERSION
    dbsage_version: str = __version__
    findings: list[Finding] = Field(default_factory=list)

    def worst_severity(self) -> Severity | None:
        """The most urgent severity among the findings, or None when there are none."""
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=lambda s: s.rank)

    def fails(self, threshold: Severity) -> bool:
        """True when a finding is at or above `threshold` (drives --fail-on exit codes)."""
        return any(f.severity.at_least(threshold) for f in self.findings)
