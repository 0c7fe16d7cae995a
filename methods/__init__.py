"""Built-in debiasing methods (installed as ``bench.methods``); one file per method."""
from bench.methods import erm  # noqa: F401  (registers on import)
