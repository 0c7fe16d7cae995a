"""PCA of the pooled features: how many directions the representation really uses."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA


@dataclass(frozen=True)
class FeaturePCA:
    explained_variance_ratio: np.ndarray   # one per component, largest first; sums to 1
    components_for_90: int                 # fewest components explaining >= 90% of variance

    @property
    def cumulative(self) -> np.ndarray:
        return np.cumsum(self.explained_variance_ratio)


def feature_pca(features: np.ndarray, threshold: float = 0.9) -> FeaturePCA:
    """All min(N, units) components of centred features (no whitening). Features with no
    variance at all (every unit constant) have no principal direction: ratios are 0."""
    features = np.asarray(features, dtype=np.float64)
    if features.var(axis=0).sum() == 0:
        return FeaturePCA(np.zeros(min(features.shape)), 0)
    ratio = PCA().fit(features).explained_variance_ratio_
    # The small tolerance stops float rounding from asking for one more component.
    needed = int(np.searchsorted(np.cumsum(ratio), threshold - 1e-9) + 1)
    return FeaturePCA(ratio, min(needed, len(ratio)))
