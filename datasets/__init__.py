"""Built-in digit sources and datasets (installed as ``bench.datasets``)."""
from bench.datasets import colored_mnist, digits  # noqa: F401  (registers on import)
