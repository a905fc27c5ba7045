"""What an application's repository shows about its database practice: migrations and their way back,
CI that runs them, pools, caches, backup jobs, runbooks and alert rules.

The repository is walked once (bounded: vendored and generated folders skipped, large files not read);
each decider searches the files for its evidence and names the file and line it found.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from dbsage.tools.checklist_model import ItemStatus, Verdict, unknown
from dbsage.tools.errors import InputError
from dbsage.tools.findings import Finding, Location, ObjectType
from dbsage.tools.rules.registry import make_finding

MAX_FILES = 20_000
MAX_READ_BYTES = 1_000_000
_SKIP_DIRS = {
    ".git", "node_modules", ".venv", "venv", "__pycache__", ".tox", "dist", "build", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", "target", "vendor", "site-packages", ".idea", ".vscode",
}
_DOC_SUFFIXES = {".md", ".rst", ".txt", ".adoc"}
_FLYWAY = re.compile(r"^(?P<kind>[VU])(?P<version>[0-9][0-9._]*)__.+\.sql$", re.IGNORECASE)
_SQL_DOWN_MARK = re.compile(r"^\s*--\s*(\+migrate\s+down|migrate:down|\+goose\s+down)\b", re.IGNORECASE | re.MULTILINE)
_DOWN_NAME = re.compile(r"(^|[._-])(down|rollback|undo|revert)([._-]|$)", re.IGNORECASE)
_UP_NAME = re.compile(r"(^|[._-])up([._-]|$)", re.IGNORECASE)


@dataclass(frozen=True)
class Hit:
    file: str
    line: int
    text: str

    def label(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Migration:
    """One migration file and whether it has a way back."""

    tool: str  # alembic, flyway, django, sql
    path: Path
    rollback: bool
    line: int = 1
    why: str = ""
    plannable: bool = False  # plain SQL that plan_migration can read as it is


@dataclass
class Repository:
    roots: list[Path]
    files: list[Path]
    truncated: bool = False
    _texts: dict[Path, str | None] = field(default_factory=dict)
    parsed: dict[str, object] = field(default_factory=dict)  # what a decider parsed once, for the others to reuse

    def rel(self, path: Path) -> str:
        for root in self.roots:
            base = root if root.is_dir() else root.parent
            try:
                return str(path.relative_to(base.parent if base == path else base))
            except ValueError:
                continue
        return str(path)

    def text(self, path: Path) -> str | None:
        if path not in self._texts:
            try:
                self._texts[path] = None if path.stat().st_size > MAX_READ_BYTES else path.read_text(
                    encoding="utf-8", errors="replace")
            except OSError:
                self._texts[path] = None
        return self._texts[path]

    def grep(self, pattern: re.Pattern[str], files: Iterable[Path], limit: int = 5) -> list[Hit]:
        hits: list[Hit] = []
        for path in files:
            text = self.text(path)
            if text is None:
                continue
            for m in pattern.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                snippet = text.splitlines()[line - 1].strip()[:120] if text else ""
                hits.append(Hit(self.rel(path), line, snippet))
                if len(hits) >= limit:
                    return hits
                break  # one hit per file is enough evidence
        return hits

    def with_suffix(self, suffixes: set[str]) -> list[Path]:
        return [p for p in self.files if p.suffix.lower() in suffixes]

    @cached_property
    def in_git(self) -> bool:
        for root in self.roots:
            for parent in [root.resolve(), *root.resolve().parents]:
                if (parent / ".git").exists():
                    return True
        return False

    @cached_property
    def names_by_folder(self) -> dict[Path, set[str]]:
        folders: dict[Path, set[str]] = {}
        for p in self.files:
            folders.setdefault(p.parent, set()).add(p.name)
        return folders

    @cached_property
    def migrations(self) -> list[Migration]:
        return _find_migrations(self)


def scan_repository(paths: list[str]) -> Repository:
    """Walk the given files and folders; InputError names a path that does not exist."""
    roots: list[Path] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise InputError(f"No such file or folder: {given}.", hint="give the application's repository folder")
        roots.append(path)
    files: list[Path] = []
    truncated = False
    for root in roots:
        if root.is_file():
            files.append(root)
            continue
        stack = [root]
        while stack and not truncated:
            folder = stack.pop()
            try:
                entries = sorted(folder.iterdir(), key=lambda p: p.name)
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir() and not entry.is_symlink():
                    if entry.name not in _SKIP_DIRS and not entry.name.endswith(".egg-info"):
                        stack.append(entry)
                elif entry.is_file():
                    files.append(entry)
                    if len(files) >= MAX_FILES:
                        truncated = True
                        break
    return Repository(roots, sorted(set(files)), truncated)


# ------------------------------------------------------------------------------------- migrations


def _find_migrations(repo: Repository) -> list[Migration]:
    found: list[Migration] = []
    flyway_undo = {
        m.group("version").rstrip("._")
        for p in repo.files if (m := _FLYWAY.match(p.name)) and m.group("kind").upper() == "U"
    }
    for path in repo.files:
        parent = path.parent.name.lower()
        m = _FLYWAY.match(path.name)
        if m and m.group("kind").upper() == "V":
            version = m.group("version").rstrip("._")
            found.append(Migration("flyway", path, version in flyway_undo, why="no U" + version + "__*.sql undo file",
                                   plannable=True))
        elif path.suffix == ".py" and parent == "versions" and path.name != "__init__.py":
            text = repo.text(path) or ""
            if "def upgrade" in text:
                ok, line, why = _alembic_downgrade(text)
                found.append(Migration("alembic", path, ok, line, why))
        elif path.suffix == ".py" and parent == "migrations" and re.match(r"^\d{4}_", path.name):
            text = repo.text(path) or ""
            if "class Migration" in text:
                ok, line = _django_reversible(text)
                found.append(Migration("django", path, ok, line, "RunPython/RunSQL without a reverse"))
        elif path.suffix.lower() == ".sql" and not m and _in_migration_folder(path):
            if _DOWN_NAME.search(path.stem):
                continue
            text = repo.text(path) or ""
            marked = bool(_SQL_DOWN_MARK.search(text))
            paired = _has_down_file(path, repo)
            found.append(Migration("sql", path, marked or paired, why="no down file or down section",
                                   plannable=not marked))
    return found


def _in_migration_folder(path: Path) -> bool:
    return any(part.lower() in ("migrations", "migration", "migrate", "db", "schema_migrations", "sql")
               for part in path.parts[:-1])


def _has_down_file(path: Path, repo: Repository) -> bool:
    stem = path.name[: -len(".sql")]
    base = _UP_NAME.sub(lambda m: m.group(1) + "down" + m.group(2), stem) if _UP_NAME.search(stem) else None
    candidates = {f"{stem}.down.sql", f"{stem}_down.sql", f"{stem}-down.sql"}
    if base:
        candidates.add(base + ".sql")
    siblings = repo.names_by_folder.get(path.parent, set())
    down_folder = path.parent.parent / "down"
    return bool(candidates & siblings) or (down_folder / path.name).exists()


def _alembic_downgrade(text: str) -> tuple[bool, int, str]:
    """Whether downgrade() undoes anything, the line of its `def`, and why not."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return True, 1, ""  # unreadable: do not accuse it
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "downgrade":
            body = [s for s in node.body if not (
                isinstance(s, ast.Pass)
                or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)))]
            if not body:
                return False, node.lineno, "downgrade() does nothing"
            if all(isinstance(s, ast.Raise) for s in body):
                return False, node.lineno, "downgrade() only raises: the revision is irreversible"
            return True, node.lineno, ""
    upgrade = next((n.lineno for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"), 1)
    return False, upgrade, "no downgrade() function"


def _django_reversible(text: str) -> tuple[bool, int]:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return True, 1
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        keyword = {"RunPython": "reverse_code", "RunSQL": "reverse_sql"}.get(name)
        if keyword and len(node.args) < 2 and not any(k.arg == keyword for k in node.keywords):
            return False, node.lineno
    return True, 1


def migrations_found(repo: Repository | None, history_tables: list[str]) -> Verdict:
    evidence: dict[str, object] = {"migration_history_tables": history_tables}
    if repo is None:
        return unknown("give the application's repository (--paths) so its migration files can be found",
                       **evidence)
    migrations = repo.migrations
    tools = sorted({m.tool for m in migrations})
    folders = sorted({repo.rel(m.path.parent) for m in migrations})
    evidence.update({"migration_files": len(migrations), "tools": tools, "folders": folders[:10],
                     "in_git_repository": repo.in_git})
    if not migrations:
        return Verdict(ItemStatus.FAIL, evidence, "no migration files (Alembic, Flyway, Django, SQL) in the paths")
    if not repo.in_git:
        return Verdict(ItemStatus.WARN, evidence, "migration files found, but not inside a git repository")
    return Verdict(ItemStatus.PASS, evidence)


def migrations_rollback(repo: Repository | None) -> Verdict:
    if repo is None:
        return unknown("give the application's repository (--paths) so each migration's down step can be checked")
    migrations = repo.migrations
    if not migrations:
        return Verdict(ItemStatus.NOT_APPLICABLE, {"migration_files": 0}, "no migration files found in the paths")
    missing = [m for m in migrations if not m.rollback]
    findings: list[Finding] = []
    for m in missing:
        rel = repo.rel(m.path)
        findings.append(make_finding(
            "health.migration_without_rollback", object_type=ObjectType.FILE, obj=rel,
            message=f"{m.tool} migration {rel} has no way back: {m.why}.",
            evidence={"tool": m.tool, "reason": m.why},
            location=Location(file=rel, line=m.line, statement=0),
        ))
    evidence: dict[str, object] = {
        "migration_files": len(migrations), "without_rollback": len(missing),
        "files_without_rollback": [repo.rel(m.path) for m in missing[:20]],
    }
    if missing:
        return Verdict(ItemStatus.FAIL, evidence, f"{len(missing)} of {len(migrations)} migrations have no rollback",
                       findings)
    return Verdict(ItemStatus.PASS, evidence)


_CI_NAMES = re.compile(
    r"(\.github/workflows/[^/]+\.ya?ml|\.gitlab-ci\.ya?ml|Jenkinsfile|\.circleci/config\.ya?ml|"
    r"azure-pipelines\.ya?ml|bitbucket-pipelines\.ya?ml|Makefile|deploy[^/]*\.(sh|ya?ml))$")
_MIGRATE_COMMAND = re.compile(
    r"alembic\s+upgrade|flyway\b.*\bmigrate|manage\.py\s+migrate|liquibase\b.*\bupdate|dbsage\s+plan-migration"
    r"|prisma\s+migrate\s+deploy|db:migrate|goose\b.*\bup\b|dbmate\s+up", re.IGNORECASE)


def migrations_tested(repo: Repository | None) -> Verdict:
    if repo is None:
        return unknown("no query shows where migrations ran before; a CI job that applies them to staging "
                       "(give --paths) would settle it")
    ci = [p for p in repo.files if _CI_NAMES.search(p.as_posix())]
    hits = repo.grep(_MIGRATE_COMMAND, ci)
    evidence: dict[str, object] = {"ci_files": len(ci), "migration_runs": [h.label() for h in hits]}
    if hits:
        return Verdict(ItemStatus.PASS, evidence, f"CI runs the migrations ({hits[0].label()})")
    return unknown("no CI or deployment file in the paths runs the migrations; a staging job that does would "
                   "settle it (plan_migration --verify proves them on a scratch database)", **evidence)


_ZERO_DOWNTIME = re.compile(r"zero[- ]downtime|expand[ /-]+(and[ -]+)?contract|online schema change",
                            re.IGNORECASE)


def zero_downtime_docs(repo: Repository | None) -> list[str]:
    if repo is None:
        return []
    return [h.label() for h in repo.grep(_ZERO_DOWNTIME, repo.with_suffix(_DOC_SUFFIXES))]


# ------------------------------------------------------------------------------ pools and caches

def connection_pooling(repo: Repository | None, pool: dict[str, object],
                       connection_evidence: dict[str, object] | None = None, *, cores_given: bool = False) -> Verdict:
    """The pools the repository configures, judged against the server limits connection_usage read."""
    from dbsage.tools import repo_pools  # it reads a Repository: imported late to keep the modules acyclic

    return repo_pools.connection_pooling(repo, pool, repo_pools.server_limits(connection_evidence),
                                         cores_given=cores_given)


def cache_layer(repo: Repository | None) -> Verdict:
    """The repository's cache client, its patterns, and entries without TTL or namespace."""
    from dbsage.tools import repo_cache

    return repo_cache.cache_layer(repo)


# ------------------------------------------------------------------------------ backup and alerts

_BACKUP = re.compile(
    r"\bpg_dump(all)?\b|pg_basebackup|pgbackrest|\bwal-g\b|\bbarman\b|mysqldump|mariadb-dump|mariabackup"
    r"|xtrabackup|litestream|backup_retention_period|backup_configuration|automated_backup", re.IGNORECASE)
_RETENTION = re.compile(
    r"retention|repo\d-retention|keep[-_](daily|weekly|monthly|last)|-mtime\s+\+\d+|delete-older-than|"
    r"expire_logs_days|binlog_expire_logs_seconds", re.IGNORECASE)
_RESTORE_NAME = re.compile(r"restore|disaster|recovery|runbook|(^|[._-])dr([._-]|$)", re.IGNORECASE)
_RESTORE_TEXT = re.compile(r"pg_restore|\brestor(e|ing)\b", re.IGNORECASE)
# "Stated" means with a figure: "RTO: 4 hours", "recovery point objective of 15 minutes".
_DURATION = r"[^\n]{0,60}?\b\d+(\.\d+)?\s*(s|sec|seconds?|m|min|minutes?|h|hrs?|hours?|d|days?)\b"
_RTO = re.compile(r"(\bRTO\b|recovery time objective)" + _DURATION, re.IGNORECASE)
_RPO = re.compile(r"(\bRPO\b|recovery point objective)" + _DURATION, re.IGNORECASE)
_ALERT_FILE = re.compile(r"alert|rule|monitor|prometheus|grafana|datadog|\.rules$", re.IGNORECASE)
_DISK = re.compile(r"disk|filesystem|free_?storage|storage_?space|volume_?usage|pg_database_size", re.IGNORECASE)
_SLOW = re.compile(r"slow[_ ]?quer|pg_stat_statements|mean_exec_time|slow_queries|query_latency|long_query",
                   re.IGNORECASE)


_JOB_SUFFIXES = {".sh", ".bash", ".cron", ".yml", ".yaml", ".tf", ".hcl", ".conf", ".ini", ".service", ".timer", ""}
_BACKUP_NAME = re.compile(r"backup|pgbackrest|wal-g|walg|barman|dump", re.IGNORECASE)


def _job_files(repo: Repository) -> list[Path]:
    """Where a scheduled backup is written down: scripts, cron and CI/container/infrastructure files, and code
    files whose name says backup (application code that merely mentions pg_dump does not count)."""
    return [p for p in repo.files if p.suffix.lower() in _JOB_SUFFIXES or p.name in ("Dockerfile", "Makefile")
            or _BACKUP_NAME.search(p.name)]


def backup_jobs(repo: Repository | None) -> list[Hit]:
    return [] if repo is None else repo.grep(_BACKUP, _job_files(repo))


def retention_hits(repo: Repository | None) -> list[Hit]:
    if repo is None:
        return []
    backupish = [p for p in _job_files(repo) if _BACKUP_NAME.search(p.name) or repo.grep(_BACKUP, [p], 1)]
    return repo.grep(_RETENTION, backupish)


def restore_runbook(repo: Repository | None) -> Verdict:
    if repo is None:
        return unknown("no query can tell whether a restore was ever tried: a restore runbook or drill record in "
                       "the repository (e.g. docs/restore.md; give --paths) would settle it")
    named = [p for p in repo.with_suffix(_DOC_SUFFIXES) if _RESTORE_NAME.search(p.stem)]
    hits = repo.grep(_RESTORE_TEXT, named)
    evidence: dict[str, object] = {"runbooks": [h.label() for h in hits]}
    if hits:
        return Verdict(ItemStatus.PASS, evidence, f"restore runbook at {hits[0].label()}")
    return unknown("no restore runbook in the paths (a file such as docs/restore.md describing the restore would "
                   "settle it; a restore drill proves it)", **evidence)


def rto_rpo(repo: Repository | None) -> Verdict:
    if repo is None:
        return unknown("RTO and RPO are decisions, not settings: a document in the repository stating both (give "
                       "--paths) would settle it")
    docs = repo.with_suffix(_DOC_SUFFIXES)
    rto = {h.file: h for h in repo.grep(_RTO, docs, limit=50)}
    rpo = {h.file: h for h in repo.grep(_RPO, docs, limit=50)}
    both = sorted(set(rto) & set(rpo))
    evidence: dict[str, object] = {"documents": [rto[f].label() for f in both][:5]}
    if both:
        return Verdict(ItemStatus.PASS, evidence, f"RTO and RPO stated in {both[0]}")
    return unknown("no document in the paths states both RTO and RPO", **evidence)


def alert_rules(repo: Repository | None, topic: re.Pattern[str]) -> list[Hit]:
    if repo is None:
        return []
    files = [p for p in repo.files if _ALERT_FILE.search(p.as_posix()) and p.suffix.lower() in
             {".yml", ".yaml", ".json", ".tf", ".rules", ".libsonnet", ".jsonnet", ".hcl"}]
    return repo.grep(topic, files)


def disk_alerts(repo: Repository | None, database_bytes: object) -> Verdict:
    evidence: dict[str, object] = {"database_bytes": database_bytes}
    hits = alert_rules(repo, _DISK)
    if hits:
        evidence["alert_rules"] = [h.label() for h in hits]
        return Verdict(ItemStatus.PASS, evidence, f"disk alert rule at {hits[0].label()}")
    return unknown("SQL cannot see free disk space: an alert rule on disk usage in the repository (Prometheus, "
                   "Grafana, Datadog, Terraform; give --paths) would settle it", **evidence)


def slow_query_alerts(repo: Repository | None, slow_log_on: bool | None) -> Verdict:
    hits = alert_rules(repo, _SLOW)
    evidence: dict[str, object] = {"slow_query_logging": slow_log_on}
    if hits:
        evidence["alert_rules"] = [h.label() for h in hits]
        return Verdict(ItemStatus.PASS, evidence, f"slow-query alert rule at {hits[0].label()}")
    if slow_log_on is False:
        return Verdict(ItemStatus.WARN, evidence, "slow statements are not logged, so nothing can alert on them")
    return unknown("an alert rule on slow queries in the repository (give --paths) would settle it", **evidence)
