"""Which SQLite files are results stores, and how to open one without changing anyone else's.

A store made by this suite carries an application id in its SQLite header (``PRAGMA
application_id``, set when the store is created) and its layout version (``PRAGMA
user_version``). Opening decides from the file alone, before anything is written:

- ours (our id): opened; a layout newer than this bench is refused (upgrade);
- a store of an earlier bench (no id, and exactly our ``runs`` table): opened, and stamped
  with the id when opened for writing;
- a missing or empty file: created with the id when opened for writing; refused (and not
  created) when opened for reading;
- anything else (another program's database, our table name with other columns, extra
  tables): refused with one line, and the file is left byte for byte as it was.

Read-only opening uses SQLite's ``mode=ro``, which can neither create nor change the file.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from bench.errors import StoreError

APPLICATION_ID = int.from_bytes(b"LzAB", "big")   # 0x4C7A4142, bytes 68-71 of the header
FORMAT_VERSION = 1                                 # the store layout, PRAGMA user_version

RUNS_TABLE = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    spec_hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    method TEXT NOT NULL,
    dataset TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at TEXT NOT NULL,
    record TEXT NOT NULL
)"""
EXPECTED_COLUMNS = ("id", "key", "spec_hash", "seed", "status", "method", "dataset", "source",
                    "created_at", "record")
# SQLite keeps AUTOINCREMENT counters in sqlite_sequence; a store of ours has nothing else.
OUR_TABLES = {"runs", "sqlite_sequence"}
NOT_CHANGED = "pass --store with another path (the file was not changed)"


def connect(path: Path, readonly: bool, timeout: float) -> sqlite3.Connection:
    if readonly:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout,
                               isolation_level=None)
    return sqlite3.connect(path, timeout=timeout, isolation_level=None)


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _columns(conn: sqlite3.Connection) -> tuple[str, ...]:
    return tuple(row[1] for row in conn.execute("PRAGMA table_info(runs)"))


def _is_zero_length(path: Path) -> bool:
    """A zero-length file is no one's database (SQLite writes nothing until a first change);
    an empty database that a program did write is someone's."""
    try:
        return path.stat().st_size == 0
    except OSError:
        return False


def identify(conn: sqlite3.Connection, path: Path) -> str:
    """"ours", "legacy" (an earlier bench's store, no id) or "empty"; raises StoreError for a
    file that is not a results store. Reads only."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    tables = _tables(conn)
    if app_id == APPLICATION_ID:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > FORMAT_VERSION:
            raise StoreError(f"results store {path} has layout {version}, newer than this "
                             f"bench reads ({FORMAT_VERSION}); upgrade lazy-artist-bench")
        if "runs" in tables and _columns(conn) != EXPECTED_COLUMNS:
            raise StoreError(f"results store {path} has a damaged 'runs' table (columns "
                             f"{', '.join(_columns(conn))}); move it aside or {NOT_CHANGED}")
        return "ours" if "runs" in tables else "empty"
    if app_id != 0:
        raise StoreError(f"{path} is a SQLite database of another program (application id "
                         f"{app_id:#x}), not a lazy-artist-bench results store; {NOT_CHANGED}")
    if not tables and _is_zero_length(path):
        return "empty"
    if "runs" in tables and tables <= OUR_TABLES and _columns(conn) == EXPECTED_COLUMNS:
        return "legacy"
    if "runs" in tables:
        columns = _columns(conn)
        missing = [c for c in EXPECTED_COLUMNS if c not in columns]
        extra = sorted(tables - OUR_TABLES)
        why = f"missing {', '.join(missing)}" if missing else \
            f"other tables: {', '.join(extra)}" if extra else "other columns"
        raise StoreError(f"{path} has a 'runs' table with columns ({', '.join(columns)}), not "
                         f"a lazy-artist-bench results store ({why}); {NOT_CHANGED}")
    raise StoreError(f"{path} is a SQLite database of another program (tables: "
                     f"{', '.join(sorted(tables)) or 'none'}), not a lazy-artist-bench results "
                     f"store; {NOT_CHANGED}")


def open_readonly(path: Path, timeout: float, missing_ok: bool = False) -> sqlite3.Connection:
    """A connection that can change nothing. A missing store is an error (nothing is
    created), or with ``missing_ok`` an empty store in memory."""
    if not path.exists():
        if not missing_ok:
            raise StoreError(f"no results store at {path} (nothing was created); pass --store "
                             f"with an existing store, or run bench run first")
        conn = sqlite3.connect(":memory:", isolation_level=None)
        conn.execute(RUNS_TABLE)
        return conn
    if path.is_dir():
        raise StoreError(f"--store {path} is a folder; pass the path of a results store file")
    conn = connect(path, readonly=True, timeout=timeout)
    try:
        if identify(conn, path) == "empty":
            raise StoreError(f"{path} is an empty file, not a results store; pass --store with "
                             f"an existing store")
    except BaseException:
        conn.close()
        raise
    return conn


def open_writable(path: Path, timeout: float) -> sqlite3.Connection:
    """Opens or creates the store; an earlier bench's store is stamped as ours."""
    if path.is_dir():
        raise StoreError(f"--store {path} is a folder; pass the path of a results store file")
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path, readonly=False, timeout=timeout)
    try:
        kind = identify(conn, path)
        if kind == "empty":
            _create(conn, path)
        elif kind == "legacy":
            _stamp(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _create(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        if identify(conn, path) == "empty":     # another process may have created it meanwhile
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
            conn.execute(RUNS_TABLE)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _stamp(conn: sqlite3.Connection) -> None:
    """Marks an earlier bench's store as ours. Best effort: a read-only or busy store stays
    unmarked (and is still opened), so that the write probe before training names the cause."""
    try:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
    except sqlite3.OperationalError:
        pass
