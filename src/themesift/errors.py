"""One error tree for themesift.

Every error a user can cause is a :class:`ThemesiftError`; the CLI catches that base class in
one place and prints its message. Each subclass also derives from the built-in error it
resembles, so ``except ValueError`` in a notebook keeps working.
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "ThemesiftError",
    "InputError",
    "FrameworkError",
    "StoreError",
    "MissingDependencyError",
]


class ThemesiftError(Exception):
    """Base class of every error themesift raises on purpose."""


class InputError(ThemesiftError, ValueError):
    """Bad input from the user: a file, a table, a parameter value.

    The message names the file and line (where there is one), what is wrong and what to do.

    Parameters
    ----------
    problem:
        What is wrong, as one sentence.
    path:
        The file the problem is in, if any.
    line:
        1-based line number in that file, if known.
    row:
        For a spreadsheet: the 1-based row instead (said as "row N").
    fix:
        What the user can do about it.
    """

    def __init__(
        self,
        problem: str,
        *,
        path: str | PathLike[str] | None = None,
        line: int | None = None,
        row: int | None = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = None if path is None else str(path)
        self.line = line
        self.row = row
        self.fix = fix
        super().__init__(self._message())

    def _message(self) -> str:
        where = ""
        if self.path is not None:
            where = (f"{self.path}, line {self.line}" if self.line is not None else
                     f"{self.path}, row {self.row}" if self.row is not None else self.path)
            where += ": "
        text = where + _sentence(self.problem)
        if self.fix:
            text += " " + _sentence(self.fix)
        return text


def _sentence(text: str) -> str:
    """Text ending in exactly one full stop (or its own "?" or "!")."""
    text = text.strip()
    return text if text.endswith(("?", "!", ".")) else text + "."


class FrameworkError(InputError):
    """A framework file (YAML) that cannot be used as it is."""


class StoreError(ThemesiftError, RuntimeError):
    """The Study store cannot be opened, read or written."""


class MissingDependencyError(ThemesiftError, ImportError):
    """An optional package or model that a feature needs is not installed."""

    def __init__(self, what: str, install: str) -> None:
        self.install = install
        super().__init__(f"{what} is not installed. Install it with: {install}")
