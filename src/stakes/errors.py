"""Errors that reach the user as one line per problem, exit code 2, no traceback."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnostic:
    """One thing wrong with an input: where it is and what is wrong."""

    message: str
    file: str | None = None
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    field: str | None = None  # dotted path, e.g. "entries[3].salience"

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class StakesError(Exception):
    """Base class of errors the CLI reports without a traceback (exit code 2)."""

    exit_code = 2

    def lines(self) -> list[str]:
        return [str(self)]


#: Problems of one input printed at most; a file with a million bad values gets a count.
MAX_REPORTED = 100


class InputError(StakesError):
    """An input file (scenario or peer format) is invalid; carries every problem found."""

    def __init__(self, problems: list[Diagnostic] | Diagnostic | str, file: str | None = None):
        if isinstance(problems, str):
            problems = [Diagnostic(problems, file=file)]
        elif isinstance(problems, Diagnostic):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        """One line per problem; past :data:`MAX_REPORTED`, one line counting the rest."""
        shown = [str(p) for p in self.problems[:MAX_REPORTED]]
        rest = len(self.problems) - len(shown)
        if rest > 0:
            file = self.problems[0].file or "<input>"
            shown.append(f"{file}: {rest} more problem{'s' if rest > 1 else ''} not shown")
        return shown


class DiagnosticList:
    """Gathers the problems of one input file, so that they are reported together."""

    def __init__(self, file: str | None):
        self.file = file
        self.items: list[Diagnostic] = []

    def add(self, message: str, line: int | None = None, column: int | None = None,
            field: str | None = None) -> None:
        self.items.append(Diagnostic(message, self.file, line, column, field))

    def fail(self, message: str, line: int | None = None, column: int | None = None,
             field: str | None = None) -> InputError:
        """Add a problem and return the error carrying every one (for ``raise``)."""
        self.add(message, line, column, field)
        return InputError(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise InputError(self.items)


class OptionError(StakesError):
    """A model option, or a combination of options, is invalid."""


class ModelError(StakesError):
    """A model cannot run on the given input (e.g. an exchange model with one issue)."""
