"""What the server shows about recoverability: WAL archiving or binary logs, and what they allow.

PostgreSQL: wal_level, archive_mode, archive_command/archive_library (whether set, never the text: it
may hold credentials), archive_timeout, pg_stat_archiver (last archived segment and its age, failures),
replication slots. MariaDB/MySQL: log_bin, binlog_format, binlog_row_image, sync_binlog, the expiry
settings, and the binary logs on disk (SHOW BINARY LOGS). From these: whether point-in-time recovery
is possible now, and the data loss (RPO) the current setup allows. Queries that may be refused run
in a savepoint (PostgreSQL) or alone, and a refusal becomes a `not_checked` line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dbsage.tools.catalog import Dialect
from dbsage.tools.errors import QueryFailed
from dbsage.tools.sources.guard import GuardedSession

_SAVEPOINT = "dbsage_backup_facts"
FULL_BACKUP_GAP = "everything written since the last full backup (up to a day with daily fulls)"

_PG_SETTINGS = ("wal_level", "archive_mode", "archive_command", "archive_library", "archive_timeout",
                "max_wal_senders", "max_slot_wal_keep_size")
_PG_SETTINGS_SQL = """
SELECT name, CASE WHEN source = 'session' THEN reset_val ELSE setting END AS value
FROM pg_settings WHERE name = ANY(%(names)s)
"""
_PG_ARCHIVER_SQL = """
SELECT archived_count, failed_count, last_archived_wal, last_archived_time, last_failed_time,
       extract(epoch FROM now() - last_archived_time)::float8 AS last_archived_age_seconds
FROM pg_stat_archiver
"""
_PG_SLOTS_SQL = """
SELECT count(*) FILTER (WHERE slot_type = 'physical') AS physical, count(*) FILTER (WHERE slot_type = 'logical')
       AS logical, count(*) FILTER (WHERE NOT active) AS inactive
FROM pg_replication_slots
"""
_MYSQL_VARIABLES = ("log_bin", "binlog_format", "binlog_row_image", "sync_binlog", "expire_logs_days",
                    "binlog_expire_logs_seconds", "max_binlog_size", "gtid_mode", "gtid_binlog_pos")


@dataclass
class BackupFacts:
    """The recoverability facts, ready for the backup.pitr item's evidence and the backup plan."""

    evidence: dict[str, object] = field(default_factory=dict)
    pitr_possible: bool | None = None
    pitr_reason: str = "not read"
    rpo_now: str = FULL_BACKUP_GAP
    archive_timeout_s: int | None = None
    not_checked: list[str] = field(default_factory=list)


def read_backup_facts(session: GuardedSession, dialect: Dialect) -> BackupFacts:
    """The facts for `session`'s server; SQLite has neither WAL archiving nor binary logs."""
    if dialect is Dialect.POSTGRES:
        return _postgres(session)
    if dialect.is_mysql_family:
        return _mysql(session)
    return BackupFacts(
        pitr_possible=False,
        pitr_reason="SQLite keeps no change log to replay: point-in-time recovery needs a tool such as Litestream",
        rpo_now="everything written since the file was last copied",
    )


def _rows(session: GuardedSession, sql: str, params: Any, facts: BackupFacts, what: str) -> list[dict[str, Any]]:
    """Rows of a query that may be refused; [] and a not_checked line when it is."""
    postgres = session.dialect is Dialect.POSTGRES
    if postgres:
        session.catalog(f"SAVEPOINT {_SAVEPOINT}")
    try:
        rows = session.catalog(sql, params)
    except QueryFailed as exc:
        if postgres:
            session.catalog(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
            session.catalog(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        facts.not_checked.append(f"{what}: {exc.message}")
        return []
    if postgres:
        session.catalog(f"RELEASE SAVEPOINT {_SAVEPOINT}")
    return rows


def _int(value: object) -> int | None:
    try:
        return int(float(str(value)))
    except (TypeError, ValueError):
        return None


def _postgres(session: GuardedSession) -> BackupFacts:
    facts = BackupFacts()
    settings = {str(r["name"]): str(r["value"] or "") for r in _rows(
        session, _PG_SETTINGS_SQL, {"names": list(_PG_SETTINGS)}, facts, "archive settings")}
    command, library = settings.get("archive_command"), settings.get("archive_library")
    command_set = command not in (None, "", "(disabled)")
    timeout = _int(settings.get("archive_timeout"))
    facts.archive_timeout_s = timeout
    ev = facts.evidence
    ev.update({"archive_timeout_seconds": timeout, "max_wal_senders": _int(settings.get("max_wal_senders"))})
    archiver = _rows(session, _PG_ARCHIVER_SQL, None, facts, "WAL archiver")
    if archiver:
        a = archiver[0]
        age = a["last_archived_age_seconds"]
        ev.update({"last_archived_wal": a["last_archived_wal"],
                   "last_archived_age_seconds": round(float(age), 1) if age is not None else None})
    slots = _rows(session, _PG_SLOTS_SQL, None, facts, "replication slots")
    if slots:
        ev.update({"replication_slots_physical": int(slots[0]["physical"]),
                   "replication_slots_logical": int(slots[0]["logical"]),
                   "replication_slots_inactive": int(slots[0]["inactive"])})
    mode, level = settings.get("archive_mode"), settings.get("wal_level")
    if mode is None or (command is None and library is None):
        facts.pitr_reason = "the archive settings are hidden from this role (needs pg_read_all_settings)"
        return facts
    archiving = mode in ("on", "always") and (command_set or bool(library)) and level in ("replica", "logical")
    failing = bool(archiver) and archiver[0]["last_failed_time"] is not None and (
        archiver[0]["last_archived_time"] is None
        or archiver[0]["last_failed_time"] > archiver[0]["last_archived_time"])
    if not archiving:
        facts.pitr_possible = False
        facts.pitr_reason = (f"WAL is not archived (wal_level={level}, archive_mode={mode}, archive command or "
                             f"library {'set' if command_set or library else 'unset'}): only the last full backup "
                             "can be restored")
        return facts
    if failing:
        facts.pitr_possible = False
        facts.pitr_reason = (f"WAL archiving is configured but its last attempt failed ({archiver[0]['failed_count']} "
                             "failures): the archive has a gap from then on")
        facts.rpo_now = "everything since the archiver's last success"
        return facts
    facts.pitr_possible = True
    facts.pitr_reason = ("WAL is archived continuously: any moment after a base backup can be restored (the server "
                         "cannot show whether a base backup exists)")
    facts.rpo_now = (f"at most archive_timeout ({timeout} s) of changes" if timeout else
                     "up to one unfilled WAL segment (16 MB of changes; on a quiet server that can be hours): "
                     "set archive_timeout to bound it")
    return facts


def _mysql(session: GuardedSession) -> BackupFacts:
    facts = BackupFacts()
    names = ", ".join(["%s"] * len(_MYSQL_VARIABLES))
    variables = {str(r["Variable_name"]).lower(): str(r["Value"]) for r in _rows(
        session, f"SHOW GLOBAL VARIABLES WHERE Variable_name IN ({names})", list(_MYSQL_VARIABLES), facts,
        "binary log settings")}
    ev = facts.evidence
    sync = _int(variables.get("sync_binlog"))
    ev.update({"binlog_row_image": variables.get("binlog_row_image"), "sync_binlog": sync,
               "max_binlog_size": _int(variables.get("max_binlog_size")),
               "gtid_binlog_pos": variables.get("gtid_binlog_pos") or None})
    log_bin = variables.get("log_bin", "").lower() in ("on", "1", "yes")
    if log_bin:
        logs = _rows(session, "SHOW BINARY LOGS", None, facts, "binary logs (needs BINLOG MONITOR or REPLICATION "
                                                                "CLIENT)")
        if logs:
            sizes = [_int(r.get("File_size")) or 0 for r in logs]
            ev.update({"binary_log_files": len(logs), "binary_log_bytes": sum(sizes)})
    if not variables:
        facts.pitr_reason = "the binary log settings could not be read"
        return facts
    if not log_bin:
        facts.pitr_possible = False
        facts.pitr_reason = "the binary log is off: only the last full backup can be restored"
        return facts
    facts.pitr_possible = True
    facts.pitr_reason = (f"the binary log is on ({variables.get('binlog_format')} format): a backup plus "
                         "mariadb-binlog replay reaches any moment the logs still cover")
    facts.rpo_now = ("the last committed transaction while the binary logs survive; if the server's disk is lost, "
                     "everything since they were last copied off the server")
    if sync == 0:
        facts.rpo_now += "; sync_binlog=0 lets a crash lose the last transactions the OS had not flushed"
    return facts
