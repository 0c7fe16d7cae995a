"""Study code: modules that serve one analysis script each (scripts/), not the run path.

``calibration`` (scripts/calibrate_backbone.py), ``rerun_drift`` (scripts/rerun_drift.py),
``feature_probes`` and ``kept_models`` (scripts/feature_probe.py, scripts/attack_strength.py),
``curves`` (scripts/epoch_curves.py), ``pgd_strength`` (scripts/attack_strength.py). They may
import the library; the library never imports them.
"""
