"""Lazy Artist Bench: spurious-correlation debiasing on Colored MNIST."""
__version__ = "0.1.0"
