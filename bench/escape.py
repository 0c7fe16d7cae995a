"""Record fields on their way out: into markdown, a terminal, a shell command line, a file name.

Records are data from anyone (:mod:`bench.record_schema` checks their shape); the text they
carry is escaped for each medium at the place it enters it, so that a method name or an error
message can neither inject HTML, a heading or a table cell into a page, nor markup or escape
sequences into a terminal, nor a second command into a suggested ``bench run`` line, nor a
path outside the output folder. Every function leaves ordinary names unchanged, so escaping
never moves a byte of a page built from well-formed records.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path, PurePosixPath

from rich.markup import escape as rich_escape

from bench.errors import ConfigError

# C0 and C1 controls (newlines and escape sequences among them) and Unicode line separators
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MARKDOWN = {"\\": "\\\\", "|": "\\|", "`": "\\`", "$": "\\$", "<": "&lt;", ">": "&gt;"}
_SLUG_UNSAFE = re.compile(r"[^A-Za-z0-9._+@-]")


def markdown_text(text: object) -> str:
    """Text for a markdown page, table cells included: one line, no HTML, no code span or
    table cell it could close, no link or math it could open. Brackets stay (row labels end
    in ``[hash]``); a link needs ``](``, which is broken up."""
    out = "".join(_MARKDOWN.get(ch, ch) for ch in CONTROL.sub(" ", str(text)))
    return out.replace("](", "]\\(")


def terminal_text(text: object) -> str:
    """Text for a rich console: markup escaped, control characters (escape sequences that
    would move the cursor or retitle the terminal) shown as ``?``."""
    return rich_escape(CONTROL.sub("?", str(text)))


def shell_word(text: object) -> str:
    """One shell word that a POSIX shell reads back as ``text`` exactly (control characters,
    which a plain quote would carry onto a new line, in bash's ``$'...'`` form)."""
    text = str(text)
    if not CONTROL.search(text):
        return shlex.quote(text)
    body = "".join(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 and CONTROL.match(ch)
                   else f"\\u{ord(ch):04x}" if CONTROL.match(ch)
                   else "\\" + ch if ch in "\\'" else ch for ch in text)
    return f"$'{body}'"


def shell_option(option: str) -> str:
    """``"--flag value"`` with the value as one shell word (the flag is ours)."""
    flag, space, value = option.partition(" ")
    return f"{flag} {shell_word(value)}" if space else option


def slug_part(text: object) -> str:
    """A piece of a file name: characters outside letters, digits and ``. _ + @ -`` become
    ``_``, and it starts with a letter, digit or ``_`` (never a dot: a hidden file; never a
    dash: an option to the shell tool that lists it)."""
    part = _SLUG_UNSAFE.sub("_", str(text)) or "_"
    return part if part[0].isalnum() or part[0] == "_" else "_" + part


def confined(folder: Path, name: str) -> Path:
    """``folder / name`` for a relative name that stays inside ``folder`` (judged on the name
    itself: not empty or ``.``, no absolute path, no ``..``, no backslash); otherwise a
    one-line ConfigError and nothing is written."""
    relative = PurePosixPath(name)
    if not relative.parts or relative.is_absolute() or ".." in relative.parts \
            or "\\" in name or CONTROL.search(name):
        raise ConfigError(f"refused to write {name!r}: the name would leave {folder} "
                          f"(names come from record fields; check the records)")
    return Path(folder) / relative
