"""The Finding: one shape for every problem any dbsage tool reports (a public contract)."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

JsonScalar = str | int | float | bool | None
Evidence = dict[str, JsonScalar | list[JsonScalar]]


class Severity(StrEnum):
    """The persona's prioritisation, most urgent first."""

    BLOCKER = "blocker"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """4 for blocker down to 0 for info: higher is more urgent."""
        return _SEVERITY_RANK[self]

    def at_least(self, other: Severity) -> bool:
        """True when this severity is as urgent as `other` or more."""
        return self.rank >= other.rank


_SEVERITY_RANK = {
    Severity.BLOCKER: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


class Category(StrEnum):
    SCHEMA = "schema"
    INDEX = "index"
    QUERY = "query"
    MIGRATION = "migration"
    SECURITY = "security"
    PERFORMANCE = "performance"
    OPERATIONS = "operations"


class ObjectType(StrEnum):
    TABLE = "table"
    COLUMN = "column"
    COLUMNS = "columns"
    INDEX = "index"
    CONSTRAINT = "constraint"
    POLICY = "policy"
    VIEW = "view"
    FUNCTION = "function"
    ROLE = "role"
    USER = "user"
    SCHEMA = "schema"
    SETTING = "setting"
    FILE = "file"
    DATABASE = "database"


class Location(BaseModel):
    """Where in a file a finding sits."""

    model_config = ConfigDict(extra="forbid")

    file: str
    line: int = Field(ge=1, description="1-based line of the statement's start")
    statement: int = Field(ge=0, description="0-based index of the statement in the file")


class Finding(BaseModel):
    """One problem, on one object, with the facts behind it and what resolves it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Stable fingerprint of rule_id + object + location")
    rule_id: str = Field(description="Stable rule id, e.g. index.fk_without_index")
    severity: Severity
    category: Category
    object_type: ObjectType
    object: str = Field(description="Qualified name, e.g. schema.table.column")
    message: str = Field(description="One sentence specific to this object")
    evidence: Evidence = Field(default_factory=dict, description="The measured facts behind the finding")
    fix: str | None = Field(default=None, description="SQL that resolves it, runnable as given")
    remediation: str | None = Field(default=None, description="The steps in words when SQL is not the fix")
    location: Location | None = None


def fingerprint(rule_id: str, obj: str, location: Location | None = None) -> str:
    """A short stable hash of what identifies a finding across runs."""
    parts = [rule_id, obj]
    if location is not None:
        parts += [location.file, str(location.line), str(location.statement)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Most urgent first, then by rule and object, so output is deterministic."""
    return sorted(findings, key=lambda f: (-f.severity.rank, f.rule_id, f.object, f.id))


def evidence_value(value: Any) -> JsonScalar | list[JsonScalar]:
    """Coerce a value to something an Evidence object may hold."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [evidence_value(v) if not isinstance(v, list | tuple) else str(v) for v in value]  # type: ignore[misc]
    return str(value)
