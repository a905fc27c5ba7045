"""`dbsage demo`: a multi-tenant SaaS database with planted faults, in an embedded PostgreSQL.

The embedded server (pgserver, a PostgreSQL build shipped as a wheel) needs nothing but Python.
It listens on a unix socket only and stops when the last process using it exits, so whatever
talks to it must start it: `dbsage serve --demo` does, which is why the printed client
configuration uses that command rather than a URL.

The demo database is built once (schema and data from knowledge/demo/, generated inside the
server) and reused afterwards; its comment records which version of the demo it holds, so a
changed demo, or a load that was interrupted, is rebuilt on the next start.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import stat
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import Any, Literal, TextIO
from urllib.parse import quote

from dbsage.tools.errors import ConfigError, ConnectionFailed, InputError, QueryFailed

DEMO_DATABASE = "dbsage_demo"
# Bump when the loader itself changes how the database is built; the SQL files' own changes are
# caught by hashing them.
LOADER_VERSION = "1"
DEMO_FILES = ("schema.sql", "data.sql", "traffic.sql")
PGSERVER_USER = "pgserver"  # the system user pgserver runs PostgreSQL as when started by root
_STEP_MARK = re.compile(r"^-- step: (?P<name>.+?)\s*$", re.MULTILINE)
_MARKER_PREFIX = "dbsage demo "
# Held by whoever checks or loads the demo database, so that two processes starting at once
# (say `dbsage demo` and a client launching `dbsage serve --demo`) never load it twice.
_LOAD_LOCK_KEY = 0x646273616765  # "dbsage"

_FORMATS: dict[str, Literal["text", "json", "markdown"]] = {
    "text": "text", "json": "json", "markdown": "markdown",
}

_server: Any = None  # the pgserver handle this process holds; kept so the server outlives the call


# -- where the data lives -------------------------------------------------------------------------


def demo_data_dir() -> Path:
    """The PostgreSQL data directory of the demo: $DBSAGE_DEMO_DIR, else a per-user default.

    Started by root, pgserver runs PostgreSQL as a system user (`pgserver`), chowns the data
    directory to it and adds group/other read+execute to every parent directory up to `/`, so
    that user can reach it. Under root's home (/root, mode 700) that would open /root to every
    user. As root the default is therefore /var/tmp/dbsage-demo: its parents (/var/tmp, /var, /)
    are traversable already, so nothing gets widened, and /var/tmp survives reboots, so the
    demo database is reused. Everyone else gets the platform's per-user data directory.
    """
    configured = os.environ.get("DBSAGE_DEMO_DIR", "").strip()
    if configured:
        return Path(configured).expanduser().absolute()
    if _running_as_root():
        return Path("/var/tmp/dbsage-demo")
    return _user_data_home() / "dbsage" / "demo-pg"


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _user_data_home() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def _prepare_data_dir(pgdata: Path) -> None:
    """Create the parent of `pgdata`, and as root refuse a directory someone else planted there.

    As root, pgserver chowns the data directory and follows symlinks while doing it; a directory
    pre-created (or symlinked) by another user in a world-writable /var/tmp must never be used.
    """
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if not _running_as_root():
        return
    if pgdata.is_symlink():
        raise ConfigError(
            f"The demo data directory {pgdata} is a symbolic link; refusing to use it as root.",
            hint="remove it, or set DBSAGE_DEMO_DIR to a directory you own",
        )
    if pgdata.exists():
        allowed = {0, *_uid_of(PGSERVER_USER)}
        owner = pgdata.stat().st_uid
        if owner not in allowed:
            raise ConfigError(
                f"The demo data directory {pgdata} belongs to another user (uid {owner}); "
                "refusing to use it as root.",
                hint="remove it, or set DBSAGE_DEMO_DIR to a directory you own",
            )
    else:
        pgdata.mkdir(mode=0o700)


def _dirs_pgserver_would_widen(paths: list[Path]) -> list[Path]:
    """Parents of `paths` lacking group/other read+execute, which pgserver adds when run as root."""
    wanted = stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
    found: list[Path] = []
    for path in paths:
        for parent in path.absolute().parents:
            if parent.is_dir() and parent.stat().st_mode & wanted != wanted and parent not in found:
                found.append(parent)
    return found


def _uid_of(user: str) -> list[int]:
    try:
        import pwd

        return [pwd.getpwnam(user).pw_uid]
    except (ImportError, KeyError):
        return []


# -- the embedded server --------------------------------------------------------------------------


def _import_pgserver() -> Any:
    try:
        with warnings.catch_warnings():
            # platformdirs warns at import time when XDG_RUNTIME_DIR is unset; pgserver copes.
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError:
        raise ConfigError(
            "The demo needs the embedded PostgreSQL server (the pgserver package), which is not installed.",
            hint="pip install 'dbsage[embedded]'",
        ) from None
    return pgserver


def _forget_dead_handles(pgserver: Any, pgdata: Path) -> None:
    """Drop processes that died without cleaning up from pgserver's list of server users.

    pgserver stops the server when the last process in that list exits; a process killed with
    SIGKILL never removes itself, and the server would then run forever.
    """
    handles = pgdata / ".handle_pids.json"
    if sys.platform == "win32" or not handles.exists():
        return
    with pgserver.postgres_server.PostgresServer._lock:
        try:
            pids = [int(p) for p in json.loads(handles.read_text())]
        except (ValueError, TypeError, OSError):
            pids = []
        alive = [p for p in pids if _pid_alive(p)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: existence check only (POSIX)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_on_sigterm() -> None:
    """Turn SIGTERM into a normal exit so the server is stopped by pgserver's exit hook."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def _exit(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def _start_server(pgdata: Path, progress: TextIO | None) -> Any:
    global _server
    if _server is not None:
        return _server
    pgserver = _import_pgserver()
    _prepare_data_dir(pgdata)
    if _running_as_root():
        if not _uid_of(PGSERVER_USER):
            _say(progress, f"running as root: pgserver adds the system user {PGSERVER_USER!r} for PostgreSQL")
        binaries = Path(pgserver.postgres_server.POSTGRES_BIN_PATH)
        for directory in _dirs_pgserver_would_widen([pgdata, binaries]):
            _say(progress, f"note: pgserver makes {directory} readable and traversable by all users")
    _forget_dead_handles(pgserver, pgdata)
    started = time.monotonic()
    _say(progress, f"starting embedded PostgreSQL in {pgdata}", end="")
    try:
        _server = pgserver.get_server(pgdata, cleanup_mode="stop")
    except Exception as exc:  # pgserver raises subprocess and assertion errors of several kinds
        _say(progress, "")
        raise ConnectionFailed(
            f"The embedded PostgreSQL server did not start in {pgdata} ({type(exc).__name__}: {exc}).",
            hint=f"see the server log {pgdata / 'log'}; or set DBSAGE_DEMO_DIR to another directory",
        ) from None
    _say(progress, f" ... {time.monotonic() - started:.1f}s")
    _stop_on_sigterm()
    return _server


def stop_demo_database() -> None:
    """Release this process's hold on the embedded server; it stops when no other process uses it."""
    global _server
    if _server is not None:
        server, _server = _server, None
        server.cleanup()


def _socket_url(server: Any, database: str) -> str:
    """A libpq URL reaching `database` over the server's unix socket."""
    info = server.get_postmaster_info()
    if info.socket_dir is not None:
        port = f"&port={info.port}" if info.port and info.port != 5432 else ""
        return f"postgresql://postgres@/{database}?host={quote(str(info.socket_dir), safe='/')}{port}"
    return f"postgresql://postgres@{info.hostname}:{info.port}/{database}"


# -- the demo database ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoStep:
    name: str
    sql: str


def demo_sql(name: str) -> str:
    """The text of one of the demo's SQL files, read from the installed package."""
    return resources.files("dbsage.knowledge").joinpath("demo", name).read_text(encoding="utf-8")


def demo_steps() -> list[DemoStep]:
    """The demo's SQL split at its `-- step:` lines, in the order they run."""
    steps: list[DemoStep] = []
    for file in DEMO_FILES:
        text = demo_sql(file)
        marks = list(_STEP_MARK.finditer(text))
        for i, mark in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
            steps.append(DemoStep(mark.group("name"), text[mark.end() : end]))
    return steps


def demo_fingerprint() -> str:
    """Names the exact demo a database was built from: the loader version and the SQL it ran."""
    digest = hashlib.sha256(LOADER_VERSION.encode())
    for file in DEMO_FILES:
        digest.update(demo_sql(file).encode())
    return f"{_MARKER_PREFIX}v{LOADER_VERSION} {digest.hexdigest()[:16]}"


@contextmanager
def _admin_connection(url: str) -> Iterator[Any]:
    import psycopg

    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise ConnectionFailed(f"Cannot reach the embedded PostgreSQL server: {exc}".strip()) from None
    try:
        yield conn
    finally:
        conn.close()


def _database_marker(admin: Any) -> str | None:
    row = admin.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (DEMO_DATABASE,)
    ).fetchone()
    if row is None:
        return None
    return str(row[0] or "")


def _load(url: str, progress: TextIO | None) -> None:
    """Run every step of the demo, in order, in the (empty) demo database."""
    import psycopg

    steps = demo_steps()
    width = max(len(s.name) for s in steps)
    total = time.monotonic()
    with _admin_connection(url) as conn:
        # The generated rows satisfy every foreign key by construction; replica mode skips the
        # per-row foreign key triggers, which would otherwise take most of the load time.
        conn.execute(b"SET session_replication_role = replica; SET synchronous_commit = off")
        for i, step in enumerate(steps, 1):
            started = time.monotonic()
            _say(progress, f"  [{i:2}/{len(steps)}] {step.name:<{width}}", end="")
            try:
                conn.execute(step.sql.encode())  # bytes: sent as written, no placeholder parsing
            except psycopg.Error as exc:
                _say(progress, "")
                raise QueryFailed(
                    f"Loading the demo failed at step {step.name!r}: {' '.join(str(exc).split())}",
                    hint="run `dbsage demo` again to rebuild it; the half-loaded database is never reused",
                ) from None
            _say(progress, f"  {time.monotonic() - started:5.1f}s")
    _say(progress, f"demo data loaded in {time.monotonic() - total:.1f}s")


def rebuild_reason(marker: str | None, wanted: str, *, fresh: bool = False) -> str | None:
    """Why the demo database must be (re)built, or None when the existing one can be reused.

    `marker` is the database's comment: None when there is no database, empty when a load never
    finished (the comment is written last), another fingerprint when the demo has changed since.
    """
    if marker is None:
        return "first run"
    if fresh:
        return "asked for a fresh copy"
    if not marker:
        return "the last load did not finish"
    if marker != wanted:
        return "built from another version of the demo"
    return None


def start_demo_database(*, fresh: bool = False, quiet: bool = False) -> str:
    """Start (or join) the embedded server, build the demo database if needed, return its URL.

    The database is rebuilt when it is missing, was built from another version of the demo, was
    left half-loaded, or `fresh` is true. Progress goes to stderr unless `quiet`. The server keeps
    running while this process (or another that joined it) lives, and stops when the last one exits.
    """
    out = None if quiet else sys.stderr
    server = _start_server(demo_data_dir(), out)
    admin_url = _socket_url(server, "postgres")
    url = _socket_url(server, DEMO_DATABASE)
    wanted = demo_fingerprint()
    with _admin_connection(admin_url) as admin:
        admin.execute("SELECT pg_advisory_lock(%s)", (_LOAD_LOCK_KEY,))
        try:
            marker = _database_marker(admin)
            reason = rebuild_reason(marker, wanted, fresh=fresh)
            if reason is None:
                _say(out, f"reusing demo database {DEMO_DATABASE} ({wanted.removeprefix(_MARKER_PREFIX)})")
                return url
            verb = "creating" if marker is None else "rebuilding"
            _say(out, f"{verb} demo database {DEMO_DATABASE} ({reason})")
            if marker is not None:
                admin.execute(f'DROP DATABASE "{DEMO_DATABASE}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{DEMO_DATABASE}"')
            _load(url, out)
            # Written last: a database without it (an interrupted load) is rebuilt next time.
            admin.execute(f"COMMENT ON DATABASE \"{DEMO_DATABASE}\" IS '{wanted}'")
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s)", (_LOAD_LOCK_KEY,))
    return url


# -- the `dbsage demo` command --------------------------------------------------------------------


def dbsage_command() -> str:
    """How a client should launch dbsage: an absolute path, since clients do not share our PATH."""
    found = shutil.which("dbsage")
    if found:
        return found
    beside_python = Path(sys.executable).parent / ("dbsage.exe" if sys.platform == "win32" else "dbsage")
    return str(beside_python) if beside_python.exists() else "dbsage"


def client_setup_text() -> str:
    """The commands that plug `dbsage serve --demo` into Claude Code and Claude Desktop."""
    command = dbsage_command()
    desktop = {"mcpServers": {"dbsage": {"command": command, "args": ["serve", "--demo"]}}}
    return "\n".join(
        [
            "Use the demo database from Claude Code (dbsage starts the embedded server itself):",
            "",
            f"  claude mcp add dbsage -- {command} serve --demo",
            "",
            "or from Claude Desktop (claude_desktop_config.json):",
            "",
            *("  " + line for line in json.dumps(desktop, indent=2).splitlines()),
            "",
            "Then ask, for example: \"Review the dbsage demo database and tell me what to fix first.\"",
        ]
    )


def run_demo(args: object) -> int:
    """Build or reuse the demo database, run every tool on it, print the report and client setup.

    Reads `args.format` (text, json, markdown) and `args.fresh` (rebuild the database) when present.
    With json, stdout carries only the report and the client setup goes to stderr.
    """
    fmt = str(getattr(args, "format", None) or "text")
    if fmt not in _FORMATS:
        raise InputError(f"Unknown format {fmt!r} for the demo.", hint="use " + ", ".join(_FORMATS))
    fresh = bool(getattr(args, "fresh", False))
    url = start_demo_database(fresh=fresh)
    try:
        report_text = demo_report(url, fmt)
    finally:
        stop_demo_database()
    sys.stdout.write(report_text)
    setup = "\n" + client_setup_text() + "\n"
    (sys.stderr if fmt == "json" else sys.stdout).write(setup)
    return 0


def demo_report(url: str, fmt: str = "text") -> str:
    """Every tool dbsage has, run on the demo database at `url`, rendered in `fmt`."""
    from dbsage.server.render import render_report, use_color
    from dbsage.tools.schema import inspect_schema

    report = inspect_schema(dsn=url, source_name=f"{DEMO_DATABASE} (embedded PostgreSQL)")
    return render_report(report, _FORMATS[fmt], color=use_color(sys.stdout))


def _say(stream: TextIO | None, text: str, *, end: str = "\n") -> None:
    if stream is None:
        return
    stream.write(text + end)
    stream.flush()

