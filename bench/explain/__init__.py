"""``bench explain``: the seed report's interpretability analyses for a stored run.

One module per analysis, each a function of (model, tensors, settings) that returns numbers
or arrays; :mod:`bench.explain.figures` draws them and :mod:`bench.explain.report` writes
``report.md``. All analyses read the model through the backbone contract of
:mod:`bench.backbones`: ``features(x)`` (the pooled units), ``classifier`` and
``feature_maps(x)``.
"""
