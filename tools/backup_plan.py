"""A backup plan for the database as it is: the persona's schedule, with this server's commands and sizes.

The schedule and retention come from the persona's table (full daily for 30 days, incremental hourly for
7 days, a snapshot before each migration until verified, a monthly archive for a year), the targets from
its examples (RTO 4 hours, RPO 15 minutes). The commands fit the engine and the measured size: below
LOGICAL_MAX_BYTES a logical dump restores within the RTO; above it the full backup is physical
(pg_basebackup, mariabackup), which restores at file-copy speed. Commands name host, port, user and
database but never a password (it belongs in ~/.pgpass or a client option file).
"""

from __future__ import annotations

from dbsage.tools.backup_facts import BackupFacts
from dbsage.tools.backup_model import BackupPlan, BackupStep, RestoreDrill
from dbsage.tools.catalog import Dialect
from dbsage.tools.sources.urls import DatabaseUrl

LOGICAL_MAX_BYTES = 50 * 1024**3  # above ~50 GB a single-threaded logical restore takes hours: RTO suffers
RTO_TARGET = "4 hours (the persona's example; set your own)"
RPO_TARGET = "15 minutes (the persona's example; set your own)"


def backup_plan(url: DatabaseUrl, dialect: Dialect, size: int | None, facts: BackupFacts,
                drill: RestoreDrill | None) -> BackupPlan:
    """The plan for the database at `url` of `size` bytes, given what the server keeps and the drill's result."""
    logical_bytes = drill.backup_bytes if drill is not None else None
    large = size is not None and size > LOGICAL_MAX_BYTES
    if dialect is Dialect.POSTGRES:
        steps, restore, notes = _postgres(url, size, logical_bytes)
    elif dialect.is_mysql_family:
        steps, restore, notes = _mysql(url, size, logical_bytes, large)
    else:
        steps, restore, notes = _sqlite(url, size)
    if drill is not None:
        notes.append(f"the restore drill restored the logical backup in {drill.restore_seconds:.2f} s: the lower "
                     "bound of RTO at this size")
    return BackupPlan(
        database_bytes=size, steps=steps, restore_command=restore, pitr_possible=facts.pitr_possible,
        pitr_reason=facts.pitr_reason, rto_target=RTO_TARGET, rpo_target=RPO_TARGET, rpo_now=facts.rpo_now,
        rto_measured_seconds=drill.restore_seconds if drill is not None else None, notes=notes,
    )


def _pg_conn(url: DatabaseUrl) -> str:
    return f"-h {url.host or 'localhost'} -p {url.port or 5432} -U {url.user or 'postgres'}"


def _postgres(url: DatabaseUrl, size: int | None, logical: int | None) -> tuple[list[BackupStep], str, list[str]]:
    conn, db = _pg_conn(url), url.database or "<database>"
    dump = f"pg_dump -Fc {conn} -d {db} -f"
    steps = [
        BackupStep(kind="full", frequency="daily", retention="30 days", purpose="the base point-in-time recovery "
                   "replays WAL onto", command=f"pg_basebackup {conn} -D /backups/base/$(date +%F) -Ft -z -Xs "
                   "--checkpoint=fast", estimated_bytes=size),
        BackupStep(kind="incremental", frequency="continuous WAL archiving (at least hourly)", retention="7 days",
                   purpose="minimise data loss: every change since the base backup",
                   command="archive_mode = on; archive_timeout = 60; archive_command = 'test ! -f /backups/wal/%f "
                   "&& cp %p /backups/wal/%f' (or pgBackRest/WAL-G archive-push)"),
        BackupStep(kind="snapshot", frequency="before each migration", retention="until the migration is verified",
                   purpose="rollback safety net", command=f"{dump} /backups/pre_migration/{db}_$(date +%F_%H%M).dump",
                   estimated_bytes=logical),
        BackupStep(kind="archive", frequency="monthly", retention="1 year", purpose="compliance and audit",
                   command=f"{dump} /backups/monthly/{db}_$(date +%Y-%m).dump (copy it to another region)",
                   estimated_bytes=logical),
    ]
    restore = f"createdb {conn} {db}_restored && pg_restore {conn} -d {db}_restored --jobs=4 --no-owner <file>.dump"
    notes = ["point-in-time recovery: unpack the base backup, set restore_command and recovery_target_time, "
             "create recovery.signal and start the server"]
    if size is not None and size <= LOGICAL_MAX_BYTES:
        notes.append(f"at this size a daily `{dump} ...` is a cheap second full backup that restores anywhere")
    return steps, restore, notes


def _mysql(
    url: DatabaseUrl, size: int | None, logical: int | None, large: bool
) -> tuple[list[BackupStep], str, list[str]]:
    conn = f"-h {url.host or 'localhost'} -P {url.port or 3306} -u {url.user or 'root'}"
    db = url.database or "<database>"
    dump = f"mariadb-dump {conn} --single-transaction --routines --triggers --events"
    physical = (f"mariabackup --backup --host={url.host or 'localhost'} --port={url.port or 3306} "
                f"--user={url.user or 'root'} --target-dir=/backups/full/$(date +%F)")
    full = BackupStep(
        kind="full", frequency="daily", retention="30 days", purpose="the starting point binary logs replay onto",
        command=physical if large else f"{dump} --master-data=2 {db} | gzip > /backups/full/{db}_$(date +%F).sql.gz",
        estimated_bytes=size if large else logical)
    steps = [
        full,
        BackupStep(kind="incremental", frequency="continuous binary log copy (at least hourly)", retention="7 days",
                   purpose="minimise data loss: every change since the full backup",
                   command=f"mariadb-binlog --read-from-remote-server {conn} --raw --stop-never "
                   "--result-file=/backups/binlog/ <first binary log>"
                   + ("; or hourly: mariabackup --backup --incremental-basedir=<last full> "
                      "--target-dir=/backups/inc/$(date +%F_%H)" if large else "")),
        BackupStep(kind="snapshot", frequency="before each migration", retention="until the migration is verified",
                   purpose="rollback safety net",
                   command=f"{dump} {db} > /backups/pre_migration/{db}_$(date +%F_%H%M).sql",
                   estimated_bytes=logical),
        BackupStep(kind="archive", frequency="monthly", retention="1 year", purpose="compliance and audit",
                   command=f"{dump} {db} | gzip > /backups/monthly/{db}_$(date +%Y-%m).sql.gz (copy it to another "
                   "region)", estimated_bytes=logical),
    ]
    restore = (f"mariadb {conn} -e 'CREATE DATABASE {db}_restored' && gunzip -c <file>.sql.gz | "
               f"mariadb {conn} {db}_restored")
    notes = ["point-in-time recovery: restore the full backup, then mariadb-binlog --start-position=<position in the "
             "dump header> --stop-datetime=<moment> <binary logs> | mariadb"]
    return steps, restore, notes


def _sqlite(url: DatabaseUrl, size: int | None) -> tuple[list[BackupStep], str, list[str]]:
    path = str(url.path or "<file>.db")

    def copy(folder: str, stamp: str) -> str:
        return f"sqlite3 {path} \".backup '/backups/{folder}/db_$(date +{stamp}).db'\""

    steps = [
        BackupStep(kind="full", frequency="daily", retention="30 days", purpose="a consistent copy of the file",
                   command=copy("full", "%F"), estimated_bytes=size),
        BackupStep(kind="incremental", frequency="continuous (Litestream)", retention="7 days",
                   purpose="minimise data loss", command=f"litestream replicate {path} <replica URL>"),
        BackupStep(kind="snapshot", frequency="before each migration", retention="until the migration is verified",
                   purpose="rollback safety net", command=copy("pre_migration", "%F_%H%M"), estimated_bytes=size),
        BackupStep(kind="archive", frequency="monthly", retention="1 year", purpose="compliance and audit",
                   command=copy("monthly", "%Y-%m"), estimated_bytes=size),
    ]
    return steps, f"cp <backup>.db {path} (with the application stopped), or litestream restore", []
