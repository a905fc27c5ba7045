"""A DDL script read offline: its statements (cut the way each engine's client cuts them) and the notes
on what reading them could not settle.

One scanner serves the three dialects; what differs is what counts as a quote, a comment and the end
of a statement:

- PostgreSQL: dollar quoting, nested block comments, E'' strings; psql meta-commands (lines starting
  with a backslash) and the data lines of `COPY ... FROM stdin` blocks are dropped, as psql would not
  send them to the server;
- MySQL/MariaDB: the client's `DELIMITER` command, backslash escapes in strings, `#` comments, and
  executable comments (`/*!40101 ... */`, `/*M! ... */`) whose content the server runs;
- SQLite: `[bracketed]` identifiers, and `CREATE TRIGGER ... BEGIN ... END;` bodies, whose inner
  semicolons do not end the statement.

A statement that never ends (an unterminated quote) runs to the end of the text, so the parser that
reads it next reports the error at its line rather than the splitter failing.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from dbsage.tools.catalog import Dialect


@dataclass(frozen=True)
class Statement:
    """One statement of a script."""

    text: str
    line: int
    index: int

    @property
    def head(self) -> str:
        """The first words, upper-cased, for messages and quick classification."""
        return " ".join(self.text.split()[:4]).upper()[:60]


_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\u0080-\U0010ffff][\w\u0080-\U0010ffff]*)?\$")
_DELIMITER_LINE = re.compile(r"[ \t]*delimiter[ \t]+(\S+)[^\n]*", re.IGNORECASE)
_EXEC_COMMENT = re.compile(r"/\*M?!(\d*)")
# mariadb-dump opens with /*M!999999\- enable the sandbox mode */: a version no server reaches, so never run
_NEVER_RUN_VERSION = 200000
_COPY_FROM_STDIN = re.compile(r"^\s*COPY\b.*\bFROM\s+STDIN\b", re.IGNORECASE | re.DOTALL)
_TRIGGER_START = re.compile(r"^\s*CREATE\s+(?:TEMP\s+|TEMPORARY\s+)?TRIGGER\b", re.IGNORECASE)
_ENDS_WITH_END = re.compile(r"\bEND\s*$", re.IGNORECASE)


class _Scanner:
    def __init__(self, text: str, dialect: Dialect) -> None:
        self.text = text
        self.dialect = dialect
        self.pg = dialect is Dialect.POSTGRES
        self.mysql = dialect.is_mysql_family
        self.sqlite = dialect is Dialect.SQLITE
        self.statements: list[Statement] = []
        self.pieces: list[str] = []
        self.seg_start = 0
        self.stmt_start: int | None = None
        self.delimiter = ";"
        self.in_exec_comment = False

    # -- bookkeeping -------------------------------------------------------------------------

    def line_of(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1

    def mark_start(self, pos: int) -> None:
        if self.stmt_start is None:
            self.stmt_start = pos
            self.seg_start = pos
            self.pieces = []

    def flush_segment(self, end: int) -> None:
        if self.stmt_start is not None and end > self.seg_start:
            self.pieces.append(self.text[self.seg_start:end])

    def current_text(self, end: int) -> str:
        if self.stmt_start is None:
            return ""
        return "".join(self.pieces) + self.text[self.seg_start:end]

    def finish(self, end: int) -> str:
        """Close the current statement at `end` (exclusive); returns its text."""
        if self.stmt_start is None:
            return ""
        body = self.current_text(end).strip()
        if body:
            self.statements.append(Statement(body, self._line_cache(self.stmt_start), len(self.statements)))
        self.stmt_start = None
        self.pieces = []
        return body

    _lines_counted_to = 0
    _lines_seen = 1

    def _line_cache(self, pos: int) -> int:
        # statements arrive in order, so count newlines incrementally instead of from 0 each time
        if pos < self._lines_counted_to:
            return self.line_of(pos)
        self._lines_seen += self.text.count("\n", self._lines_counted_to, pos)
        self._lines_counted_to = pos
        return self._lines_seen

    # -- scanning ----------------------------------------------------------------------------

    def special_chars(self, *, newline: bool) -> re.Pattern[str]:
        """Characters that can change the scanner's state; newlines matter only between statements."""
        chars = ";'\"-/*" + ("\n" if newline else "")
        if self.pg:
            chars += "$"
        if self.mysql:
            chars += "`#"
        if self.sqlite:
            chars += "`["
        if self.delimiter != ";":
            chars += self.delimiter[0]
        return re.compile("[" + re.escape(chars) + "]")

    def run(self) -> list[Statement]:
        text, n = self.text, len(self.text)
        between = self.special_chars(newline=True)
        inside = self.special_chars(newline=False)
        i = 0
        at_line_start = True
        while i < n:
            if at_line_start and self.stmt_start is None:
                skip = self.line_command(i)
                if skip is not None:
                    i = skip
                    between = self.special_chars(newline=True)
                    inside = self.special_chars(newline=False)
                    continue
            at_line_start = False
            m = (between if self.stmt_start is None else inside).search(text, i)
            stop = n if m is None else m.start()
            if stop > i:
                # plain text up to the next character that can change the scanner's state
                chunk = text[i:stop]
                stripped = len(chunk) - len(chunk.lstrip())
                if stripped < len(chunk):
                    self.mark_start(i + stripped)
                i = stop
                continue
            ch = text[i]
            if ch == "\n":
                at_line_start = True
                i += 1
                continue
            if self.delimiter != ";" and text.startswith(self.delimiter, i):
                self.finish(i)
                i += len(self.delimiter)
                continue
            if ch == ";" and self.delimiter == ";":
                if self.inside_trigger_body(i):
                    i += 1
                    continue
                body = self.finish(i)
                i += 1
                if self.pg and body and _COPY_FROM_STDIN.match(body):
                    i = self.skip_copy_data(i)
                    at_line_start = True
                continue
            if ch == "-" and text.startswith("--", i) and self.dash_comment_ok(i):
                end = text.find("\n", i)
                i = n if end == -1 else end
                continue
            if ch == "#" and self.mysql:
                end = text.find("\n", i)
                i = n if end == -1 else end
                continue
            if ch == "/" and text.startswith("/*", i):
                em = _EXEC_COMMENT.match(text, i) if self.mysql else None
                if em is not None and em.group(1) and int(em.group(1)) >= _NEVER_RUN_VERSION:
                    em = None
                if em is not None:
                    self.mark_start(em.end())
                    self.flush_segment(i)
                    self.seg_start = em.end()
                    self.in_exec_comment = True
                    i = em.end()
                    continue
                i = self.skip_block_comment(i)
                continue
            if ch == "*" and self.in_exec_comment and text.startswith("*/", i):
                self.flush_segment(i)
                self.seg_start = i + 2
                self.in_exec_comment = False
                i += 2
                continue
            self.mark_start(i)
            i = self.skip_token(i)
        self.finish(n)
        return self.statements

    def inside_trigger_body(self, i: int) -> bool:
        """A SQLite trigger's statement ends at `END;`, not at the semicolons of its body."""
        if not self.sqlite or self.stmt_start is None:
            return False
        so_far = self.current_text(i)
        return bool(_TRIGGER_START.match(so_far)) and not _ENDS_WITH_END.search(so_far)

    def line_command(self, i: int) -> int | None:
        """Handle a client-side command line (psql backslash, MySQL DELIMITER); returns where to go on."""
        text = self.text
        j = i
        while j < len(text) and text[j] in " \t":
            j += 1
        if self.pg and text.startswith("\\", j):
            end = text.find("\n", j)
            return len(text) if end == -1 else end
        if self.mysql:
            m = _DELIMITER_LINE.match(text, i)
            if m is not None:
                self.delimiter = m.group(1)
                return m.end()
        return None

    def dash_comment_ok(self, i: int) -> bool:
        # MySQL needs whitespace (or end of line) after "--"; `a--1` is arithmetic there
        if not self.mysql:
            return True
        nxt = self.text[i + 2 : i + 3]
        return nxt == "" or nxt in " \t\r\n"

    def skip_block_comment(self, i: int) -> int:
        text = self.text
        if not self.pg:
            end = text.find("*/", i + 2)
            return len(text) if end == -1 else end + 2
        depth, j = 0, i
        while j < len(text):
            if text.startswith("/*", j):
                depth += 1
                j += 2
            elif text.startswith("*/", j):
                depth -= 1
                j += 2
                if depth == 0:
                    return j
            else:
                j += 1
        return len(text)

    def skip_copy_data(self, i: int) -> int:
        """Skip the rest of the COPY line and the data lines up to the `\\.` terminator."""
        text = self.text
        nl = text.find("\n", i)
        if nl == -1:
            return len(text)
        j = nl + 1
        while j < len(text):
            end = text.find("\n", j)
            line = text[j:] if end == -1 else text[j:end]
            if line.rstrip("\r") == "\\.":
                return len(text) if end == -1 else end + 1
            if end == -1:
                return len(text)
            j = end + 1
        return len(text)

    def skip_token(self, i: int) -> int:
        """Skip one token starting at `i` (a quoted string or identifier as a whole)."""
        text, ch = self.text, self.text[i]
        if ch == "'":
            escape_string = self.pg and i > 0 and text[i - 1] in "eE" and not _word_char_before(text, i - 1)
            backslash = self.mysql or escape_string
            return _skip_quoted(text, i, "'", backslash)
        if ch == '"':
            return _skip_quoted(text, i, '"', self.mysql)
        if ch == "`" and not self.pg:
            return _skip_quoted(text, i, "`", False)
        if ch == "[" and self.sqlite:
            end = text.find("]", i + 1)
            return len(text) if end == -1 else end + 1
        if ch == "$" and self.pg and not _word_char_before(text, i):
            m = _DOLLAR_TAG.match(text, i)
            if m is not None:
                end = text.find(m.group(0), m.end())
                return len(text) if end == -1 else end + len(m.group(0))
        return i + 1


def _word_char_before(text: str, i: int) -> bool:
    return i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_$")


_QUOTED = {
    (quote, backslash): re.compile(
        rf"{quote}(?:[^{quote}\\]|{quote}{quote}|\\.)*{quote}"
        if backslash
        else rf"{quote}(?:[^{quote}]|{quote}{quote})*{quote}",
        re.DOTALL,
    )
    for quote in ("'", '"', "`")
    for backslash in (True, False)
}


def _skip_quoted(text: str, i: int, quote: str, backslash: bool) -> int:
    """The index just past the quoted token at `i` (the end of the text when it never closes)."""
    m = _QUOTED[(quote, backslash)].match(text, i)
    return m.end() if m is not None else len(text)


def split_statements(text: str, dialect: Dialect) -> list[Statement]:
    """The statements of `text`, in order, each with its 1-based start line and 0-based index."""
    return _Scanner(text, dialect).run()


LIVE_ONLY_FACTS = (
    "row counts, table and index sizes, sequence positions, index usage and server settings need a live "
    "database; this catalog was read from DDL"
)
_MAX_LISTED_FAILURES = 20


@dataclass
class ScriptNotes:
    """What a DDL reader could not parse or did not model, in words for `Catalog.unknown`."""

    file: str | None = None
    failures: list[tuple[Statement, str]] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    remarks: list[str] = field(default_factory=list)
    parsed: int = 0

    def failed(self, statement: Statement, message: str) -> None:
        self.failures.append((statement, " ".join(message.split())))

    def ignore(self, label: str) -> None:
        self.ignored[label] += 1

    def remark(self, text: str) -> None:
        if text not in self.remarks:
            self.remarks.append(text)

    def where(self, statement: Statement) -> str:
        return f"{self.file or 'DDL'} line {statement.line}"

    def render(self) -> list[str]:
        out: list[str] = []
        for statement, message in self.failures[:_MAX_LISTED_FAILURES]:
            out.append(f"{self.where(statement)}: could not parse '{statement.head}': {message}")
        if len(self.failures) > _MAX_LISTED_FAILURES:
            out.append(f"{len(self.failures) - _MAX_LISTED_FAILURES} more statements could not be parsed")
        if self.ignored:
            kinds = ", ".join(f"{label} x{count}" for label, count in sorted(self.ignored.items()))
            out.append(f"statements read but not modelled offline: {kinds}")
        out.extend(self.remarks)
        out.append(LIVE_ONLY_FACTS)
        return out
