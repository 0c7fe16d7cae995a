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
