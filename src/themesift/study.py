"""The Study store: one SQLite file holding a study's runs and the analyst's decisions.

A study keeps everything an analyst would otherwise lose between sessions: the transcripts
(with their content hash), the meaning units, every pipeline run (config and manifest), its
candidate codes and suggestions, and the decisions made on them. Decisions are append-only
rows; the current coding is derived from them, so nothing an analyst did is ever overwritten.

The file is opened in WAL mode with a busy timeout, every write is one short transaction, and
a run is written all at once when it is complete, so two notebooks deciding at once lose
nothing and a process killed mid-run or mid-decision leaves the store consistent.

Examples
--------
>>> import themesift as ts                                  # doctest: +SKIP
>>> with ts.Study.open("my-study") as study:                # doctest: +SKIP
...     run = study.run("data/sample", "recovery")
...     study.decide(run.suggestions.suggestion_id[0], "accept", analyst="KJ")
...     coding = study.coding()
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ._io import os_user, utc_now
from .errors import InputError, StoreError
from .model import NONE_THEME, Corpus, Framework, Run
from .text import counted

if TYPE_CHECKING:
    import pandas as pd

    from .pipeline import PipelineResult

__all__ = ["Study", "Run", "CodeReach", "ACTIONS", "SCHEMA_VERSION"]

logger = logging.getLogger(__name__)

#: What an analyst can do with a suggestion.
ACTIONS = ("accept", "reject", "reassign")
#: Marks a SQLite file as a themesift store (PRAGMA application_id; "TSFT" in ASCII).
APPLICATION_ID = 0x54534654
STORE_FILE = "study.sqlite"
_SUFFIXES = (".sqlite", ".sqlite3", ".db")
_BUSY_TIMEOUT_MS = 30_000

#: Each migration takes a store from version ``i`` to ``i + 1`` (the list is 0-based): append a
#: tuple of statements to change the schema, never edit one already released.
MIGRATIONS: list[tuple[str, ...]] = [
    (  # version 1
        """CREATE TABLE transcripts (
            doc_id TEXT PRIMARY KEY,
            path TEXT,
            sha256 TEXT,
            format TEXT,
            text TEXT NOT NULL)""",
        """CREATE TABLE units (
            unit_id TEXT PRIMARY KEY,
            doc_id TEXT REFERENCES transcripts(doc_id),
            speaker TEXT,
            role TEXT,
            turn INTEGER,
            start INTEGER,
            "end" INTEGER,
            text TEXT NOT NULL)""",
        "CREATE INDEX units_doc ON units(doc_id, start)",
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            created TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('running', 'complete')),
            config TEXT NOT NULL,
            manifest TEXT)""",
        """CREATE TABLE codes (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            code_id TEXT NOT NULL,
            label TEXT,
            keywords TEXT,
            size INTEGER,
            exemplar_ids TEXT,
            exemplars TEXT,
            extra TEXT,
            PRIMARY KEY (run_id, code_id))""",
        """CREATE TABLE code_members (
            run_id TEXT NOT NULL,
            code_id TEXT NOT NULL,
            unit_id TEXT NOT NULL REFERENCES units(unit_id),
            PRIMARY KEY (run_id, code_id, unit_id),
            FOREIGN KEY (run_id, code_id) REFERENCES codes(run_id, code_id))""",
        "CREATE INDEX code_members_unit ON code_members(unit_id)",
        """CREATE TABLE suggestions (
            suggestion_id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            level TEXT NOT NULL CHECK (level IN ('code', 'unit')),
            item_id TEXT NOT NULL,
            theme_id TEXT,
            score REAL,
            runner_up TEXT,
            runner_up_score REAL,
            rationale TEXT)""",
        "CREATE INDEX suggestions_run ON suggestions(run_id, level)",
        """CREATE TABLE decisions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time TEXT NOT NULL,
            analyst TEXT NOT NULL DEFAULT '',
            suggestion_id TEXT NOT NULL REFERENCES suggestions(suggestion_id),
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            action TEXT NOT NULL CHECK (action IN ('accept', 'reject', 'reassign')),
            theme_id TEXT,
            note TEXT NOT NULL DEFAULT '')""",
        "CREATE INDEX decisions_suggestion ON decisions(suggestion_id, id)",
        # Decisions are the analyst's record: the database itself refuses to change one.
        """CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
           BEGIN SELECT RAISE(ABORT, 'decisions are append-only: they cannot be updated'); END""",
        """CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
           BEGIN SELECT RAISE(ABORT, 'decisions are append-only: they cannot be deleted'); END""",
    ),
    (  # version 2: each run keeps its own copy of the framework (YAML), so exports and
       # reviews do not depend on the framework file still being where it was
        "ALTER TABLE runs ADD COLUMN framework TEXT",
    ),
    (  # version 3: small talk is flagged on the units, and each code member keeps its own
       # suggested theme of that run, so that accepting a code codes only the members whose
       # own suggestion agrees (NULL in runs stored before: every member, as then)
        "ALTER TABLE units ADD COLUMN small_talk INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE code_members ADD COLUMN theme_id TEXT",
    ),
    (  # version 4: every run keeps its own unit suggestions. The suggestions table holds one
       # row per suggestion id (what decisions reference), and a unit's id 'unit:<unit_id>' is
       # the same in every run, so its row there is the latest run's; here each run's stay.
       # Runs stored before keep only what the suggestions table still had (the latest run's).
        """CREATE TABLE unit_suggestions (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            unit_id TEXT NOT NULL,
            theme_id TEXT,
            score REAL,
            runner_up TEXT,
            runner_up_score REAL,
            rationale TEXT,
            PRIMARY KEY (run_id, unit_id))""",
        """INSERT INTO unit_suggestions (run_id, unit_id, theme_id, score, runner_up,
               runner_up_score, rationale)
           SELECT run_id, item_id, theme_id, score, runner_up, runner_up_score, rationale
           FROM suggestions WHERE level = 'unit'""",
    ),
]
#: The schema version this themesift writes.
SCHEMA_VERSION = len(MIGRATIONS)

_DECISION_COLUMNS = ["id", "time", "analyst", "suggestion_id", "run_id", "action", "theme_id",
                     "note"]
_CODING_COLUMNS = ["unit_id", "doc_id", "theme_id", "decision_id", "analyst", "source"]
_SUGGESTION_COLUMNS = ["suggestion_id", "level", "item_id", "text", "theme_id", "score",
                       "runner_up", "runner_up_score", "rationale"]
_CODE_COLUMNS = ("code_id", "label", "keywords", "size", "exemplar_ids", "exemplars")

# Latest decision per suggestion; unit decisions win over code decisions; a reject codes
# nothing, and takes back an earlier code decision's coding of its members with the theme it
# rejects; accepting a code codes the members whose own suggestion was the code's theme,
# reassigning it codes them all. Window functions keep this one pass over the decisions,
# however many there are.
_CODING_SQL = """
WITH latest AS (
    SELECT d.id, d.analyst, d.action, d.theme_id, s.level, s.item_id, s.run_id AS s_run
    FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY suggestion_id ORDER BY id DESC) AS rn
          FROM decisions) AS d
    JOIN suggestions AS s ON s.suggestion_id = d.suggestion_id
    WHERE d.rn = 1
),
unit_latest AS (
    SELECT item_id AS unit_id, id, analyst, action, theme_id FROM latest WHERE level = 'unit'
),
code_members_decided AS (
    SELECT m.unit_id, l.id, l.analyst, l.action, l.theme_id
    FROM latest AS l
    JOIN code_members AS m ON m.run_id = l.s_run AND m.code_id = l.item_id
    WHERE l.level = 'code'
      AND (l.action = 'reassign' OR m.theme_id IS NULL OR m.theme_id = l.theme_id)
      AND m.unit_id NOT IN (SELECT unit_id FROM unit_latest)
),
code_coded AS (
    SELECT unit_id, id, analyst, theme_id,
           ROW_NUMBER() OVER (PARTITION BY unit_id ORDER BY id DESC) AS rn
    FROM code_members_decided AS c
    WHERE action != 'reject'
      AND NOT EXISTS (SELECT 1 FROM code_members_decided AS r
                      WHERE r.action = 'reject' AND r.unit_id = c.unit_id
                        AND r.theme_id = c.theme_id AND r.id > c.id)
),
coded AS (
    SELECT unit_id, theme_id, id, analyst, 'unit' AS source
    FROM unit_latest WHERE action != 'reject'
    UNION ALL
    SELECT unit_id, theme_id, id, analyst, 'code' FROM code_coded WHERE rn = 1
)
SELECT c.unit_id, u.doc_id, c.theme_id, c.id AS decision_id, c.analyst, c.source
FROM coded AS c LEFT JOIN units AS u ON u.unit_id = c.unit_id
ORDER BY u.doc_id, u.start, c.unit_id
"""

# The members of each code suggestion whose latest decision rejected it, with the theme.
_REJECTED_CODES_SQL = """
WITH latest AS (
    SELECT suggestion_id, action, theme_id,
           ROW_NUMBER() OVER (PARTITION BY suggestion_id ORDER BY id DESC) AS rn
    FROM decisions WHERE substr(suggestion_id, 1, 5) = 'code:'
)
SELECT l.suggestion_id, l.theme_id, m.unit_id
FROM latest AS l
JOIN suggestions AS s ON s.suggestion_id = l.suggestion_id
JOIN code_members AS m ON m.run_id = s.run_id AND m.code_id = s.item_id
WHERE l.rn = 1 AND l.action = 'reject'
"""

# Every decision with the units it is about (a unit decision: its unit; a code decision: the
# code's members) and what the run it was made on suggested for each (NULL where that run's
# unit suggestions were not kept: runs stored before schema 4 that a later run followed).
_DECIDED_SQL = """
WITH touched AS (
    SELECT d.id, substr(d.suggestion_id, 6) AS unit_id, 'unit' AS level
    FROM decisions AS d WHERE substr(d.suggestion_id, 1, 5) = 'unit:'
    UNION ALL
    SELECT d.id, m.unit_id, 'code'
    FROM decisions AS d
    JOIN suggestions AS s ON s.suggestion_id = d.suggestion_id AND s.level = 'code'
    JOIN code_members AS m ON m.run_id = s.run_id AND m.code_id = s.item_id
)
SELECT t.id, d.suggestion_id, d.run_id, t.unit_id, t.level, d.action, d.theme_id,
       us.theme_id, us.score
FROM touched AS t
JOIN decisions AS d ON d.id = t.id
LEFT JOIN unit_suggestions AS us ON us.run_id = d.run_id AND us.unit_id = t.unit_id
ORDER BY t.id, t.unit_id
"""
_DECIDED_COLUMNS = ["decision_id", "suggestion_id", "run_id", "unit_id", "level", "action",
                    "theme_id", "suggested", "score"]

# A code's members: which agree with its theme, which are decided one by one (what
# _CODING_SQL does with them when the code is accepted).
_REACH_SQL = """
WITH m AS (
    SELECT (m.theme_id IS NULL OR m.theme_id = s.theme_id) AS agrees,
           EXISTS (SELECT 1 FROM decisions AS d WHERE d.suggestion_id = 'unit:' || m.unit_id)
           AS own
    FROM suggestions AS s
    JOIN code_members AS m ON m.run_id = s.run_id AND m.code_id = s.item_id
    WHERE s.suggestion_id = ? AND s.level = 'code'
)
SELECT (SELECT COUNT(*) FROM suggestions WHERE suggestion_id = ? AND level = 'code'),
       COUNT(*), COALESCE(SUM(agrees AND NOT own), 0), COALESCE(SUM(own), 0)
FROM m
"""


class CodeReach(NamedTuple):
    """What accepting a code codes (:meth:`Study.code_reach`)."""

    #: Members an accept codes: suggested the code's theme on their own, not decided one by one.
    coded: int
    #: All the code's members.
    members: int
    #: Members decided one by one: their own decisions stand.
    decided: int

    @property
    def pending(self) -> int:
        """Members suggested another theme on their own and not yet decided: left to decide
        one by one."""
        return self.members - self.coded - self.decided


class Study:
    """A study's SQLite store: runs, suggestions and the analyst's decisions.

    Use :meth:`Study.open` rather than the constructor. The object holds the path and one
    connection for the process that opened it; a child process (or a fork) opens its own.

    Examples
    --------
    >>> study = Study.open("my-study")              # doctest: +SKIP
    >>> run = study.run("data/sample")              # doctest: +SKIP
    >>> study.decide(f"unit:{run.units.unit_id[0]}", "reassign", theme_id="hope")  # doctest: +SKIP
    1
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None
        # Reentrant: a method reading the store may run inside transaction() (apply_review)
        self._lock = threading.RLock()
        self._writing = False  # inside this thread's write transaction
        self._theme_ids: dict[str, list[str]] = {}

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Study:
        """Create or open a study store.

        Parameters
        ----------
        path:
            A folder (the store is ``study.sqlite`` inside it, and the folder is created if
            needed) or a ``.sqlite``/``.db`` file.

        Returns
        -------
        Study

        Raises
        ------
        StoreError
            If the file is not a themesift store, or was written by a newer themesift.

        Examples
        --------
        >>> study = Study.open("my-study")          # doctest: +SKIP
        >>> study.path                              # doctest: +SKIP
        PosixPath('my-study/study.sqlite')
        """
        target = store_file(path)
        if (target.is_file() and target.suffix.lower() not in _SUFFIXES
                and target.stat().st_size == 0):
            raise StoreError(f"{target} is an empty file, not a themesift study store. Give a "
                             "study folder (made if new) or a .sqlite file.")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot create the study folder {target.parent}: {exc}.") from exc
        study = cls(target)
        study._connection()  # opens, checks and migrates now, so errors surface at open()
        return study

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        # After a fork the parent's connection must not be used (nor closed) here.
        self._conn, self._pid, self._theme_ids = None, None, {}
        try:
            conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open the study store {self.path}: {exc}.") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            self._check_and_migrate(conn)
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # safe in WAL mode; fast commits
        except sqlite3.OperationalError as exc:  # locked by another program, read-only, full
            conn.close()
            raise StoreError(in_use(self.path, exc)) from exc
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{self.path} is not a themesift study store ({exc}). "
                             "Open a study folder or its study.sqlite file.") from exc
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _given(self) -> Path:
        """The study as ``--study`` names it: its folder, or a store file of another name."""
        return self.path.parent if self.path.name == STORE_FILE else self.path

    def _check_and_migrate(self, conn: sqlite3.Connection) -> None:
        version = _store_version(conn, self.path)
        if version == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while this one waited for the lock.
            version = _store_version(conn, self.path)
            for number in range(version, SCHEMA_VERSION):
                if version:  # a new store is created at the current version, quietly
                    logger.info("Migrating %s to schema version %d", self.path, number + 1)
                for statement in MIGRATIONS[number]:
                    conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back itself (a full disk)
                conn.execute("ROLLBACK")
            raise

    @property
    def schema_version(self) -> int:
        """The schema version of the store file (``PRAGMA user_version``)."""
        return self._connection().execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        """Close this process's connection; the Study can be used again later (it reopens)."""
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn, self._pid = None, None

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Study({str(self.path)!r})"

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on the store (all or nothing), taking the write lock at BEGIN so
        it never deadlocks: what :func:`~themesift.review.sheet.apply_review` checks and writes
        a whole sheet in. One opened inside another (``with study.transaction():`` around
        several ``study.decide``) is part of it: a savepoint, undone alone if it fails, and
        written when the outer one is."""
        with self._lock:
            conn = self._connection()
            if conn.in_transaction:  # the lock is reentrant: this thread's own transaction
                if not self._writing:
                    raise StoreError("A write to the study store was started inside a read "
                                     "(a bug: please report it)")
                conn.execute("SAVEPOINT inner")
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:  # SQLite may have rolled back itself (a full disk)
                        conn.execute("ROLLBACK TO inner")
                    raise
                finally:
                    if conn.in_transaction:
                        conn.execute("RELEASE inner")
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(in_use(self.path, exc)) from exc
            self._writing = True
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite may have rolled back itself (a full disk)
                    conn.execute("ROLLBACK")
                raise
            finally:
                self._writing = False

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The store's connection for reads that must agree with each other (one read
        transaction; in WAL mode other programs may write meanwhile, unseen)."""
        with self._lock:
            conn = self._connection()
            if conn.in_transaction:  # inside a write: it already reads consistently
                yield conn
                return
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")

    def _frame(self, sql: str, params: Iterable[Any] = (), columns: list[str] | None = None):
        import pandas as pd

        with self._lock:
            cursor = self._connection().execute(sql, tuple(params))
            rows = cursor.fetchall()
            names = columns or [c[0] for c in cursor.description]
        return pd.DataFrame(rows, columns=names)

    # -- runs ----------------------------------------------------------------------------------

    def run(
        self,
        corpus_or_inputs: Corpus | str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
        framework: Framework | str | None = None,
        *,
        embedder=None,
        seed: int = 0,
        moderator: Iterable[str] | str | None = None,
        encoding: str | None = None,
        n_codes: int | None = None,
        learn: bool = True,
        quiet: bool | None = None,
    ) -> Run:
        """Run the whole pipeline on transcripts and keep everything it produced in the store.

        The run is recorded as ``running`` first and its results are written in one
        transaction when it is complete, so a crash never leaves half a run. A run that was
        interrupted is taken up again by the next call with the same settings and transcripts,
        instead of leaving a stale run behind. Units, and so unit-level suggestion ids
        (``unit:<unit_id>``), are stable across runs: earlier decisions still apply.

        Parameters
        ----------
        corpus_or_inputs:
            A :class:`Corpus`, or transcript files/folders as for :func:`themesift.read_corpus`.
        framework:
            A :class:`Framework`, a built-in name or a YAML path; by default the framework of
            the study's latest complete run (a study's re-run keeps its codebook), and for a
            study's first run the built-in ``"recovery"`` (which the log says).
        embedder:
            An :class:`Embedder`; by default the packaged all-MiniLM-L6-v2.
        seed:
            Seed for every random choice.
        moderator, encoding, n_codes:
            As for :func:`themesift.read_corpus` and :func:`themesift.discover_codes`.
        learn:
            Use the analyst's coding so far (:meth:`examples`) as examples for the new
            suggestions, so each decision moves them towards the analyst's own coding.
        quiet:
            Switch progress bars off (``None``: only when not on a terminal).

        Returns
        -------
        Run

        Examples
        --------
        >>> run = Study.open("my-study").run("data/sample", "recovery")   # doctest: +SKIP
        >>> run.suggestions[["suggestion_id", "theme_id", "score"]].head()  # doctest: +SKIP
        """
        from .frameworks import load_framework
        from .ingest import read_corpus
        from .pipeline import run_pipeline

        if framework is None:
            framework = self.framework() if self.has_run() else "recovery"
            logger.info("Framework: %s", f"the study's own, {framework.name!r}" if isinstance(
                framework, Framework) else "the built-in 'recovery' (none given)")
        framework = load_framework(framework) if not isinstance(framework, Framework) else framework
        corpus = (corpus_or_inputs if isinstance(corpus_or_inputs, Corpus)
                  else read_corpus(corpus_or_inputs, moderator=moderator, encoding=encoding))
        config = _run_config(corpus, framework, embedder, seed)
        run_id = self._begin_run(config)
        logger.info("Run %s started on %s", run_id, counted(len(corpus), "transcript"))
        examples = self.examples().drop(columns="unit_id") if learn else None
        if examples is not None:
            examples = _known_themes(examples, framework)
        if examples is not None and examples.empty:
            examples = None
        result = run_pipeline(corpus, framework, embedder=embedder, seed=seed, n_codes=n_codes,
                              examples=examples, quiet=quiet)
        return self._save_run(run_id, config, result)

    def _begin_run(self, config: dict[str, Any]) -> str:
        """The id of an interrupted run with this config, or of a new run marked 'running'."""
        text = _json(config)
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT run_id FROM runs WHERE status = 'running' AND config = ? "
                "ORDER BY created DESC LIMIT 1", (text,)).fetchone()
            if row is not None:
                logger.info("Resuming interrupted run %s", row[0])
                # it starts again now: finished, it is the study's latest run
                conn.execute("UPDATE runs SET created = ? WHERE run_id = ?", (utc_now(), row[0]))
                return row[0]
            run_id = _new_run_id()
            conn.execute("INSERT INTO runs (run_id, created, status, config) "
                         "VALUES (?, ?, 'running', ?)", (run_id, utc_now(), text))
        return run_id

    def _save_run(self, run_id: str, config: dict[str, Any], result: PipelineResult) -> Run:
        """Write a finished run's results and mark it complete, all in one transaction."""
        import pandas as pd

        from .frameworks.framework import framework_to_yaml

        units = result.units
        codes = result.codes.table
        text = dict(zip(units["unit_id"], units["text"]))
        sheet = pd.DataFrame(
            [{"suggestion_id": f"code:{run_id}:{c.code_id}", "level": "code",
              "item_id": c.code_id, "text": f"{c.label} ({c.size} units)", "theme_id": c.theme_id,
              "score": c.score, "runner_up": c.runner_up,
              "runner_up_score": getattr(c, "runner_up_score", None), "rationale": c.rationale}
             for c in result.suggestions.sort_values(["size", "code_id"],
                                                     ascending=[False, True]).itertuples()
             if getattr(c, "offered", True)]  # a code whose members disagree is no decision
            + [{"suggestion_id": f"unit:{u.unit_id}", "level": "unit", "item_id": u.unit_id,
                "text": text.get(u.unit_id, ""), "theme_id": u.theme_id, "score": u.score,
                "runner_up": u.runner_up, "runner_up_score": getattr(u, "runner_up_score", None),
                "rationale": u.rationale}
               for u in result.unit_suggestions.itertuples()],
            columns=_SUGGESTION_COLUMNS)
        manifest = {**result.manifest, "run_id": run_id}
        with self.transaction() as conn:
            # A resumed run may have been finished by another process meanwhile: replace it.
            conn.execute("DELETE FROM suggestions WHERE run_id = ? AND level = 'code' AND "
                         "suggestion_id NOT IN (SELECT suggestion_id FROM decisions)", (run_id,))
            conn.execute("DELETE FROM unit_suggestions WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM code_members WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM codes WHERE run_id = ?", (run_id,))
            conn.executemany(
                "INSERT INTO transcripts (doc_id, path, sha256, format, text) VALUES (?,?,?,?,?) "
                "ON CONFLICT(doc_id) DO UPDATE SET path=excluded.path, sha256=excluded.sha256, "
                "format=excluded.format, text=excluded.text",
                [(t.id, _str(t.meta.get("path")), t.meta.get("sha256"), t.meta.get("format"),
                  t.text) for t in result.corpus])
            conn.executemany(
                'INSERT INTO units (unit_id, doc_id, speaker, role, turn, start, "end", text, '
                "small_talk) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(unit_id) DO UPDATE SET "
                "doc_id=excluded.doc_id, speaker=excluded.speaker, role=excluded.role, "
                'turn=excluded.turn, start=excluded.start, "end"=excluded."end", '
                "text=excluded.text, small_talk=excluded.small_talk",
                [(*(_plain(row.get(c)) for c in ("unit_id", "doc_id", "speaker", "role",
                                                  "turn", "start", "end", "text")),
                  int(bool(row.get("small_talk", False))))
                 for row in units.to_dict("records")])
            conn.executemany(
                "INSERT INTO codes (run_id, code_id, label, keywords, size, "
                "exemplar_ids, exemplars, extra) VALUES (?,?,?,?,?,?,?,?)",
                [(run_id, *(_plain(row.get(c)) for c in _CODE_COLUMNS),
                  _json({k: v for k, v in row.items() if k not in _CODE_COLUMNS}))
                 for row in codes.to_dict("records")])
            own = dict(zip(result.unit_suggestions["unit_id"], result.unit_suggestions["theme_id"]))
            conn.executemany(
                "INSERT OR IGNORE INTO code_members (run_id, code_id, unit_id, theme_id) "
                "VALUES (?,?,?,?)",
                [(run_id, c, u, own.get(u)) for u, c in zip(result.codes.assignments["unit_id"],
                                                            result.codes.assignments["code_id"])])
            conn.executemany(
                "INSERT INTO suggestions (suggestion_id, run_id, level, item_id, theme_id, score, "
                "runner_up, runner_up_score, rationale) VALUES (?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(suggestion_id) DO UPDATE SET run_id=excluded.run_id, "
                "level=excluded.level, item_id=excluded.item_id, theme_id=excluded.theme_id, "
                "score=excluded.score, runner_up=excluded.runner_up, "
                "runner_up_score=excluded.runner_up_score, rationale=excluded.rationale",
                [(row["suggestion_id"], run_id,
                  *(_plain(row[c]) for c in _SUGGESTION_COLUMNS[1:] if c != "text"))
                 for row in sheet.to_dict("records")])
            # what this run suggested for each unit, kept when a later run suggests again
            conn.executemany(
                "INSERT INTO unit_suggestions (run_id, unit_id, theme_id, score, runner_up, "
                "runner_up_score, rationale) VALUES (?,?,?,?,?,?,?)",
                [(run_id, row["item_id"],
                  *(_plain(row[c]) for c in ("theme_id", "score", "runner_up", "runner_up_score",
                                             "rationale")))
                 for row in sheet.to_dict("records") if row["level"] == "unit"])
            conn.execute("UPDATE runs SET status = 'complete', config = ?, manifest = ?, "
                         "framework = ? WHERE run_id = ?",
                         (_json(config), _json(manifest), framework_to_yaml(result.framework),
                          run_id))
        self._theme_ids.pop(run_id, None)
        logger.info("Run %s complete: %d units, %d codes, %d suggestions", run_id, len(units),
                    len(codes), len(sheet))
        return Run(run_id, units, codes, sheet, assignments=result.codes.assignments[
            ["unit_id", "code_id"]].reset_index(drop=True), manifest=manifest, result=result)

    @property
    def runs(self) -> pd.DataFrame:
        """Every run in the store: ``run_id, created, status`` in the order they were started."""
        return self._frame("SELECT run_id, created, status FROM runs ORDER BY created, run_id")

    def has_run(self) -> bool:
        """Whether the study has a complete run."""
        with self._lock:
            return self._connection().execute(
                "SELECT 1 FROM runs WHERE status = 'complete' LIMIT 1").fetchone() is not None

    def latest_run_id(self) -> str:
        """The id of the most recent complete run.

        Raises
        ------
        InputError
            If the study has no complete run yet.
        """
        with self._lock:
            row = self._connection().execute(
                "SELECT run_id FROM runs WHERE status = 'complete' "
                "ORDER BY created DESC, rowid DESC LIMIT 1").fetchone()
        if row is None:
            raise InputError(f"The study {self.path} has no complete run yet",
                             fix="Run the pipeline first: themesift run TRANSCRIPTS --study "
                                 f"{self._given()}, or study.run('transcripts/', 'recovery')")
        return str(row[0])

    def _run_row(self, run_id: str | None) -> tuple[str, dict[str, Any], str | None, str | None]:
        run_id = run_id or self.latest_run_id()
        with self._lock:
            row = self._connection().execute(
                "SELECT config, framework, manifest FROM runs "
                "WHERE run_id = ? AND status = 'complete'",
                (run_id,)).fetchone()
        if row is None:
            complete = self.runs.query("status == 'complete'")["run_id"]
            raise InputError(f"No complete run {run_id!r} in {self.path}. "
                             f"Complete runs: {', '.join(complete) or 'none yet'}")
        return run_id, json.loads(row[0]), row[1], row[2]

    def load_run(self, run_id: str | None = None) -> Run:
        """A run read back from the store (the latest complete one by default).

        Returns
        -------
        Run
            With ``units`` (the units the run made suggestions for; for runs stored before
            schema 4, the units of its transcripts), ``codes``, ``suggestions`` and
            ``assignments`` as :meth:`run` returned them; ``result`` is None.

        Examples
        --------
        >>> run = study.load_run()                              # doctest: +SKIP
        >>> run.codes[["code_id", "label", "size"]]             # doctest: +SKIP
        """
        import pandas as pd

        run_id, config, _, manifest = self._run_row(run_id)
        units = self._units("WHERE unit_id IN (SELECT unit_id FROM unit_suggestions WHERE "
                            "run_id = ?)", [run_id])
        if units.empty:  # a run stored before schema 4: the units of its transcripts
            docs = [str(i["doc_id"]) for i in config.get("inputs", [])]
            units = self._units(f"WHERE doc_id IN ({','.join('?' * len(docs))})", docs)
        raw = self._frame("SELECT code_id, label, keywords, size, exemplar_ids, exemplars, extra "
                          "FROM codes WHERE run_id = ? ORDER BY rowid", (run_id,))
        extra = pd.DataFrame([json.loads(e or "{}") for e in raw.pop("extra")], index=raw.index)
        codes = pd.concat([raw, extra], axis=1)
        assignments = self._frame("SELECT unit_id, code_id FROM code_members WHERE run_id = ? "
                                  "ORDER BY rowid", (run_id,), columns=["unit_id", "code_id"])
        # code suggestions have ids of their own run; unit ones are kept per run apart
        suggestions = self._frame(
            "SELECT suggestion_id, level, item_id, text, theme_id, score, runner_up, "
            "runner_up_score, rationale FROM ("
            "SELECT s.suggestion_id, s.level, s.item_id, c.label || ' (' || c.size || ' units)' "
            "AS text, s.theme_id, s.score, s.runner_up, s.runner_up_score, s.rationale, "
            "s.rowid AS written FROM suggestions AS s LEFT JOIN codes AS c "
            "ON c.run_id = s.run_id AND c.code_id = s.item_id "
            "WHERE s.run_id = ? AND s.level = 'code' "
            "UNION ALL "
            "SELECT 'unit:' || s.unit_id, 'unit', s.unit_id, u.text, s.theme_id, s.score, "
            "s.runner_up, s.runner_up_score, s.rationale, s.rowid FROM unit_suggestions AS s "
            "LEFT JOIN units AS u ON u.unit_id = s.unit_id WHERE s.run_id = ?"
            ") ORDER BY level = 'unit', written",
            (run_id, run_id), columns=_SUGGESTION_COLUMNS)
        return Run(run_id, units, codes, suggestions, assignments=assignments,
                   manifest=json.loads(manifest or "{}"))

    def framework(self, run_id: str | None = None) -> Framework:
        """The framework a run used (the latest complete run by default), from the store's copy.

        Runs made before the store kept a copy load it from where it came from.
        """
        from .frameworks import load_framework
        from .frameworks.framework import framework_from_yaml

        run_id, config, text, _ = self._run_row(run_id)
        source = str(config.get("framework_source") or "")
        if text:
            return framework_from_yaml(text, source=source, label=f"{self.path} (run {run_id})")
        return load_framework(source.removeprefix("builtin:") or config.get("framework"))

    @property
    def transcripts(self) -> pd.DataFrame:
        """The transcripts the store holds: ``doc_id, path, sha256, format, text``."""
        return self._frame("SELECT doc_id, path, sha256, format, text FROM transcripts "
                           "ORDER BY doc_id")

    @property
    def units(self) -> pd.DataFrame:
        """Every meaning unit the store holds, in transcript order (the unit-table columns
        and ``small_talk``)."""
        return self._units()

    def _units(self, where: str = "", params: Iterable[Any] = ()) -> pd.DataFrame:
        from .model import UNIT_COLUMNS

        columns = [*UNIT_COLUMNS, "small_talk"]
        quoted = ", ".join(f'"{c}"' for c in columns)
        units = self._frame(f"SELECT {quoted} FROM units {where} ORDER BY doc_id, start, unit_id",
                            params, columns=columns)
        return units.astype({"small_talk": bool})

    # -- decisions -----------------------------------------------------------------------------

    def decide(
        self,
        suggestion_id: str,
        action: str,
        theme_id: str | None = None,
        analyst: str = "",
        note: str = "",
        *,
        run_id: str | None = None,
    ) -> int:
        """Record an analyst's decision on one suggestion; decisions are never changed later.

        To change your mind, decide again: the latest decision on a unit is the one that
        counts in :meth:`coding`, and the earlier ones stay in :attr:`decisions` as history.

        Parameters
        ----------
        suggestion_id:
            ``unit:<unit_id>`` or ``code:<run_id>:<code_id>``, as in ``run.suggestions``.
        action:
            ``"accept"`` (the suggested theme), ``"reject"`` (the unit is not coded with it) or
            ``"reassign"`` (to ``theme_id`` instead). Reassigning to the suggested theme is
            recorded as ``accept`` (for a code, it codes the members whose own suggestion
            agrees), as writing that theme's id in the review sheet is.
        theme_id:
            For ``reassign``: a theme id of the run's framework, or ``"none"`` for "fits no
            theme". Not needed for accept and reject.
        analyst:
            Who decided, e.g. initials; by default the operating-system user name (as the
            review widget's Analyst field starts with). Every decision says who made it:
            where the system does not say who you are, a decision without one is refused.
        note:
            Free text kept with the decision.
        run_id:
            The run whose suggestion the analyst decided on (a review of an older run): the
            decision records it, and ``accept``/``reject`` are about that run's suggested
            theme. By default the latest run that suggested it (a unit's ``unit:<unit_id>``
            is the same id in every run; a code's id names its run).

        Returns
        -------
        int
            The decision's id.

        Raises
        ------
        InputError
            For an unknown action, suggestion id or theme, or no analyst at all.

        Examples
        --------
        >>> study.decide("unit:fg1-1a2b3c4d5e6f", "reassign", theme_id="hope",
        ...              analyst="KJ", note="talks about the future")      # doctest: +SKIP
        7
        """
        if isinstance(action, str) and action.strip().lower() in ACTIONS:
            action = action.strip().lower()  # "Accept", as the review sheet takes it
        if action not in ACTIONS:
            raise InputError(f"Unknown action {action!r}. Available: {', '.join(ACTIONS)}",
                             fix="Use 'reassign' with theme_id= to move a suggestion to "
                                 "another theme")
        if run_id is not None and run_id not in set(self.runs["run_id"]):
            raise InputError(f"The study has no run {run_id!r}",
                             fix="Take a run id from study.runs (or leave run_id out: the "
                                 "latest run)")
        row = self.suggested(suggestion_id, run_id)
        if row is None:
            of_run = f" in run {run_id!r}" if run_id is not None else ""
            raise InputError(f"Unknown suggestion {suggestion_id!r}{of_run}",
                             fix="Suggestion ids look like 'unit:<unit_id>' or "
                                 "'code:<run_id>:<code_id>'; take them from run.suggestions")
        run_id, suggested = row
        available = [*self._run_theme_ids(run_id), NONE_THEME]
        if isinstance(theme_id, str):  # " Hope", as the review sheet takes it
            theme_id = next((t for t in available if t == theme_id.strip().lower()), theme_id)
        if action == "reassign":
            if theme_id not in available:
                parent = theme_id and self.framework(run_id).top_theme_id(theme_id)
                if parent:
                    raise InputError(f"Cannot reassign {suggestion_id!r} to {theme_id!r}: it is "
                                     f"a subtheme of {parent!r}, and decisions are on themes",
                                     fix=f"Reassign it to {parent!r}")
                what = ("needs a theme_id" if theme_id is None
                        else f"names an unknown theme {theme_id!r}")
                raise InputError(f"Cannot reassign {suggestion_id!r}: it {what}. "
                                 f"Available: {', '.join(available)}")
            if theme_id == suggested:  # as the review sheet records it: the same units coded
                action = "accept"
        elif theme_id is not None and theme_id != suggested:
            raise InputError(f"Cannot {action} {suggestion_id!r} with theme_id={theme_id!r}: "
                             f"its suggested theme is {suggested!r}",
                             fix=f"Use action='reassign' to code it as {theme_id!r}")
        else:
            theme_id = suggested
        analyst = (analyst or "").strip() or os_user()
        if not analyst:
            raise InputError(f"Cannot decide {suggestion_id!r} with no analyst: the operating "
                             "system does not say who you are",
                             fix="Name who decides: analyst='KJ' (in the review widget, the "
                                 "Analyst field)")
        with self.transaction() as conn:
            decision_id = self.insert_decision(conn, utc_now(), analyst,
                                               suggestion_id, run_id, action, theme_id,
                                               note or "")
        logger.debug("Decision %d: %s %s -> %s", decision_id, action, suggestion_id, theme_id)
        return decision_id

    def suggested(self, suggestion_id: str, run_id: str | None = None,
                  conn: sqlite3.Connection | None = None) -> tuple[str, str | None] | None:
        """The run and suggested theme of a suggestion: of run ``run_id`` (None when that run
        did not make it), else of the latest run that made it; None for an unknown id.
        ``conn``: read inside the caller's transaction on the store."""
        if run_id is not None and suggestion_id.startswith("unit:"):
            sql, params = ("SELECT run_id, theme_id FROM unit_suggestions "
                           "WHERE run_id = ? AND unit_id = ?",
                           (run_id, suggestion_id.removeprefix("unit:")))
        else:
            sql, params = ("SELECT run_id, theme_id FROM suggestions WHERE suggestion_id = ? "
                           "AND (? IS NULL OR run_id = ?)", (suggestion_id, run_id, run_id))
        with self._lock:
            row = (conn or self._connection()).execute(sql, params).fetchone()
        return None if row is None else (str(row[0]), row[1])

    @staticmethod
    def insert_decision(conn: sqlite3.Connection, time: str, analyst: str, suggestion_id: str,
                        run_id: str, action: str, theme_id: str | None, note: str) -> int:
        """Append one decision row, as given, inside the caller's write transaction on the
        store (``conn``); its id. :meth:`decide` checks a decision before writing it this way;
        :func:`~themesift.review.sheet.apply_review` checks a whole sheet first."""
        cursor = conn.execute(
            "INSERT INTO decisions (time, analyst, suggestion_id, run_id, action, theme_id, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (time, str(analyst), suggestion_id, run_id, action, theme_id, str(note)))
        return cursor.lastrowid

    def settled_units(self, suggested: Mapping[str, str]) -> dict[str, str]:
        """Which of these units (unit id -> the theme a run suggests it) need no review, and
        why: ``"unit"`` or ``"code"`` when :meth:`coding` codes them (a decision on the unit
        itself, or through a code decision), ``"unit"`` too when the unit's latest decision
        rejected the very theme suggested now. A unit whose theme was rejected is not coded:
        suggested another theme, it needs review again. The review sheet, the widget and the
        report's pending units all go by this."""
        coding = self.coding()
        how = dict(zip(coding["unit_id"], coding["source"]))
        latest = self.decisions.drop_duplicates("suggestion_id", keep="last")
        rejected = {(sid.removeprefix("unit:"), theme) for sid, action, theme in
                    zip(latest["suggestion_id"], latest["action"], latest["theme_id"])
                    if action == "reject" and sid.startswith("unit:")}
        return {u: how.get(u, "unit") for u, theme in suggested.items()
                if u in how or (u, theme) in rejected}

    def rejected_before(self, codes: Mapping[str, tuple[str, Collection[str]]],
                        runs: Collection[str] | None = None) -> set[str]:
        """Which of these codes (key -> its suggested theme and its members' unit ids) a
        rejection has answered already: a code suggestion of any run (of ``runs`` only, where
        given), rejected by its latest decision, of the same theme and holding at least half
        of the code's members. A re-run finds the same groups under new code ids; the review
        sheet and the widget do not offer them again."""
        rejected: dict[tuple[str, str], set[str]] = {}
        with self._lock:
            for sid, theme, unit in self._connection().execute(_REJECTED_CODES_SQL):
                if runs is None or sid.split(":")[1] in runs:
                    rejected.setdefault((sid, theme), set()).add(unit)
        return {key for key, (theme, members) in codes.items()
                if members and any(theme == rejected_theme
                                   and 2 * len(set(members) & units) >= len(set(members))
                                   for (_, rejected_theme), units in rejected.items())}

    def _run_theme_ids(self, run_id: str) -> list[str]:
        if run_id not in self._theme_ids:
            with self._lock:
                row = self._connection().execute(
                    "SELECT config FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            self._theme_ids[run_id] = list(json.loads(row[0]).get("theme_ids", []))
        return self._theme_ids[run_id]

    @property
    def decisions(self) -> pd.DataFrame:
        """Every decision ever made, oldest first.

        Columns: ``id, time`` (UTC, ISO 8601), ``analyst, suggestion_id, run_id, action,
        theme_id, note``.
        """
        return self._frame(f"SELECT {', '.join(_DECISION_COLUMNS)} FROM decisions ORDER BY id",
                           columns=_DECISION_COLUMNS)

    def decided_since(self, decision_id: int) -> tuple[list[str], int]:
        """The suggestions decided after decision ``decision_id``, and the latest decision id:
        what a review widget needs to take in other sessions' decisions without reading all."""
        with self._lock:
            rows = self._connection().execute(
                "SELECT id, suggestion_id FROM decisions WHERE id > ? ORDER BY id",
                (decision_id,)).fetchall()
        return [s for _, s in rows], (rows[-1][0] if rows else decision_id)

    def code_reach(self, suggestion_id: str) -> CodeReach:
        """What accepting a code's suggestion codes: how many of its members, of how many.

        An ``accept`` codes the members whose own suggestion (in the code's run) is the code's
        theme and that have no decision of their own; members decided one by one keep their
        decisions (``decided``), and the others stay to be decided one by one (``pending``).
        After an accept, ``coded`` is how many units :meth:`coding` holds through it. It
        counts for an accept only: reassigning the code to another theme codes every member
        without a decision of its own (``members - decided``).

        Raises
        ------
        InputError
            If ``suggestion_id`` is not a code suggestion of this study.

        Examples
        --------
        >>> study.code_reach("code:run-20260101T000000Z-abc123:C01")   # doctest: +SKIP
        CodeReach(coded=12, members=17, decided=0)
        """
        with self._lock:
            known, total, coded, decided = self._connection().execute(
                _REACH_SQL, (suggestion_id, suggestion_id)).fetchone()
        if not known:
            raise InputError(f"Unknown code suggestion {suggestion_id!r}",
                             fix="Code suggestion ids look like 'code:<run_id>:<code_id>'; take "
                                 "them from run.suggestions")
        return CodeReach(int(coded), int(total), int(decided))

    def decided_suggestions(self) -> pd.DataFrame:
        """What the machine had suggested for each unit when the analyst decided on it.

        One row per decision and unit it is about: a decision on a unit's suggestion is about
        that unit, one on a code's suggestion about each of the code's members. ``suggested``
        and ``score`` are that unit's suggestion in the run the decision was made on (each run
        keeps its own), so the first decision on a unit shows what the machine proposed
        before the analyst's coding could teach it anything: what agreement with the machine
        is measured against (the report). Empty where that run's unit suggestions were not
        kept (runs stored before schema 4 that a later run followed).

        Returns
        -------
        pandas.DataFrame
            ``decision_id, suggestion_id, run_id, unit_id, level`` (``unit`` or ``code``:
            what was decided),
            ``action, theme_id`` (the decision's), ``suggested, score``; oldest decision first.

        Examples
        --------
        >>> first = study.decided_suggestions().drop_duplicates("unit_id")  # doctest: +SKIP
        """
        return self._frame(_DECIDED_SQL, columns=_DECIDED_COLUMNS)

    def coding(self) -> pd.DataFrame:
        """The current coding of meaning units, derived from the decisions.

        For each unit the latest unit-level decision counts: accept codes it with the suggested
        theme, reassign with the new theme, reject leaves it uncoded. Accepting a code-level
        suggestion codes the units of that code whose own suggestion (in that run) is the
        code's theme and that have no unit-level decision of their own; the other members
        stay to be decided one by one (:meth:`code_reach` counts them all). Reassigning a code
        codes all its undecided members with the analyst's theme. Where a unit belongs to
        codes decided on in several runs, the latest such decision counts. Rejecting a code
        codes nothing, and takes back an earlier decision on a code that coded its members
        with the theme it rejects (those an accept of it would code: suggested its theme): a
        reject is how a mistaken accept is taken back, whichever run it was made on. Members
        coded with another theme keep it.

        Returns
        -------
        pandas.DataFrame
            ``unit_id, doc_id, theme_id, decision_id, analyst, source`` (``"unit"`` or
            ``"code"``: which kind of decision coded it), in transcript order.

        Examples
        --------
        >>> study.coding().groupby("theme_id").size()       # doctest: +SKIP
        """
        return self._frame(_CODING_SQL, columns=_CODING_COLUMNS)

    def examples(self) -> pd.DataFrame:
        """The analyst's coding as examples to learn from: one row per coded unit and theme.

        What :func:`themesift.suggest_units` takes as ``examples=``, and what :meth:`run`
        passes on, so each decision makes the next suggestions closer to the analyst's coding.

        Returns
        -------
        pandas.DataFrame
            ``unit_id, text, theme_id, rejected, decision_id``: the coded units (``none``
            where the analyst said a unit fits no theme), and, with ``rejected`` True, units
            whose latest decision rejected the suggested theme (negative evidence for that
            theme); ``decision_id`` is the decision that coded the row, shared by the members
            of a code accepted in one click (the learner holds them out together).
        """
        import pandas as pd

        units = self._frame("SELECT unit_id, text FROM units", columns=["unit_id", "text"])
        coded = self.coding()[["unit_id", "theme_id", "decision_id"]].assign(rejected=False)
        decisions = self.decisions
        latest = decisions[decisions["suggestion_id"].str.startswith("unit:")]
        latest = latest.drop_duplicates("suggestion_id", keep="last")
        latest = latest[(latest["action"] == "reject") & latest["theme_id"].notna()]
        rejected = pd.DataFrame({"unit_id": latest["suggestion_id"].str[len("unit:"):],
                                 "theme_id": latest["theme_id"], "rejected": True,
                                 "decision_id": latest["id"]})
        rejected = rejected[~rejected["unit_id"].isin(coded["unit_id"])]
        both = pd.concat([coded, rejected], ignore_index=True).merge(units, on="unit_id")
        return both[["unit_id", "text", "theme_id", "rejected", "decision_id"]]


# -- helpers -----------------------------------------------------------------------------------

def in_use(path: str | os.PathLike[str], exc: Exception) -> str:
    """What to tell someone whose write to the study store at ``path`` failed with ``exc``."""
    if "locked" in str(exc).lower():
        return (f"{path}: the study store is in use by another program (a notebook, the review "
                f"widget, another themesift command) that kept it locked for "
                f"{_BUSY_TIMEOUT_MS // 1000} s. Let that finish or close it, then try again.")
    return (f"{path}: the study store could not be written ({exc}). Check that the disk has "
            "room and that you may write to the file and its folder, then try again.")


def store_file(path: str | os.PathLike[str]) -> Path:
    """The SQLite file of the study at ``path``: ``study.sqlite`` in a folder, or the
    ``.sqlite``/``.db`` file itself (see :meth:`Study.open`)."""
    target = Path(path)
    if target.is_dir() or (not target.exists() and target.suffix.lower() not in _SUFFIXES):
        return target / STORE_FILE
    return target


def _store_version(conn: sqlite3.Connection, path: Path) -> int:
    """The store's schema version; 0 for an empty file; StoreError if it is not a store."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    if version == 0 and app_id == 0:
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables:
            raise StoreError(f"{path} is an SQLite database but not a themesift study store. "
                             "Open a study folder or its study.sqlite file, or choose a new path.")
        return 0
    if app_id != APPLICATION_ID:
        raise StoreError(f"{path} is an SQLite database but not a themesift study store. "
                         "Open a study folder or its study.sqlite file, or choose a new path.")
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path} was written by a newer themesift (store schema version "
                         f"{version}; this themesift reads up to version {SCHEMA_VERSION}). "
                         "Upgrade themesift: pip install -U themesift.")
    return version


def _run_config(corpus: Corpus, framework: Framework, embedder, seed: int) -> dict[str, Any]:
    """What makes two runs the same run: inputs (by content), framework, model and seed."""
    from .pipeline import embedder_info

    model = None if embedder is None else embedder_info(embedder).get("model_id")
    return {
        "inputs": [{"doc_id": t.id, "sha256": t.meta.get("sha256")} for t in corpus],
        "framework": framework.name, "framework_version": framework.version,
        "framework_source": framework.source, "theme_ids": framework.theme_ids,
        "embedding_model": model, "seed": seed,
    }


def _known_themes(examples: pd.DataFrame, framework: Framework) -> pd.DataFrame:
    """The decisions whose theme the framework still has (or ``none``): a codebook revised
    between runs leaves the others out of learning, with a warning; they stay decisions."""
    known = examples["theme_id"].isin([*framework.theme_ids, NONE_THEME])
    if not known.all():
        gone = sorted(set(examples.loc[~known, "theme_id"]))
        logger.warning(
            "%d decisions name themes that framework %r does not have (%s): the new "
            "suggestions do not learn from them; the decisions themselves stand",
            int((~known).sum()), framework.name, ", ".join(gone))
    return examples[known]


_RUN_STAMP = "%Y%m%dT%H%M%SZ"  # a run id's time: "run-20261206T110257Z-8685e3"


def _new_run_id() -> str:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime(_RUN_STAMP)
    return f"run-{stamp}-{uuid.uuid4().hex[:6]}"


def run_made(run_id: str) -> datetime.datetime | None:
    """When a run was made (UTC), read from its id as :class:`Study` makes them; None for an
    id of another form."""
    parts = str(run_id).split("-")
    try:
        made = datetime.datetime.strptime(parts[1], _RUN_STAMP) if len(parts) >= 3 else None
    except ValueError:
        return None
    return made and made.replace(tzinfo=datetime.timezone.utc)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_plain)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _plain(value: Any) -> Any:
    """numpy scalars and NaN as what sqlite3 and json store."""
    if value is None:
        return None
    item = getattr(value, "item", None)
    if callable(item):
        value = item()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (str, int, float, bytes)):
        return value
    return str(value)
