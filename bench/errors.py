"""Errors that reach the user as one line and exit code 2."""
import re


class BenchError(Exception):
    """Base class: the CLI prints the message on one line and exits with 2."""


class DataError(BenchError):
    """Missing, corrupt or undownloadable data."""


class ConfigError(BenchError):
    """A malformed option or hyperparameter."""


class StoreError(BenchError):
    """The results store cannot be read or written."""


class SupervisionError(BenchError):
    """A method read a label that its declared supervision does not allow."""


# control characters other than whitespace: shown as "?", so that a message quoting a file's
# or a record's text cannot send escape sequences to the terminal
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def one_line(exc: BaseException) -> str:
    """The message a user sees: the exception's first argument, on one line even when a
    library's text is not."""
    message = exc.args[0] if exc.args else str(exc)
    return " ".join(_CONTROL.sub("?", str(message)).split())
