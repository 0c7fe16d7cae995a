"""Errors that reach the user as one line and exit code 2."""


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


def one_line(exc: BaseException) -> str:
    """The message a user sees: the exception's first argument, on one line even when a
    library's text is not."""
    message = exc.args[0] if exc.args else str(exc)
    return " ".join(str(message).split())
