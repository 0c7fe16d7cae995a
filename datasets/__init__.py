"""Built-in image sources and datasets (installed as ``bench.datasets``)."""
from bench.datasets import colored_mnist, digits, fashion_mnist  # noqa: F401  (registers on import)
