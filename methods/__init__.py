"""Built-in debiasing methods (installed as ``bench.methods``); one file per method."""
from bench.methods import erm  # noqa: F401  (registers on import)
from bench.methods import color_kl  # noqa: F401
from bench.methods import group_balanced  # noqa: F401
from bench.methods import groupdro  # noqa: F401
from bench.methods import lff  # noqa: F401
from bench.methods import jtt  # noqa: F401
from bench.methods import kmeans  # noqa: F401
from bench.methods import dfr  # noqa: F401
from bench.methods import greyscale  # noqa: F401
from bench.methods import ablate_texture  # noqa: F401
from bench.methods import dfa  # noqa: F401
from bench.methods import llc_guard  # noqa: F401
