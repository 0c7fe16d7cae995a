"""scripts/eps_seed_variants.py: the attack variants behave as their names say."""
import math

import torch
from torch import nn

from tests.conftest import load_script

variants = load_script("eps_seed_variants")


class Threshold(nn.Module):
    """Class 1 when the mean pixel exceeds ``boundary``, else class 0: flips at a known L∞
    radius."""

    def __init__(self, boundary: float = 0.5):
        super().__init__()
        self.boundary = boundary

    def forward(self, x):
        m = x.mean(dim=(1, 2, 3))
        return torch.stack([self.boundary - m, m - self.boundary], dim=1) * 50


def test_bisection_finds_the_known_radius_and_caps_unflippable_images():
    images = torch.full((3, 1, 2, 2), 0.4)
    images[2] = 0.0                              # needs 0.5 to reach the boundary: capped
    target = torch.zeros(3, dtype=torch.long)
    model = Threshold()

    def flips(eps):
        return variants.attack(model, images, target, eps, 10, eps * 0.25)
    eps = variants.bisect(flips, 3, images.device)
    assert eps[0].item() == eps[1].item()
    assert 0.1 <= eps[0].item() <= 0.1 * 1.06    # the boundary is 0.1 away; 5% precision
    assert eps[2].item() == variants.EPS_MAX


def test_clamping_is_what_keeps_a_perturbation_inside_the_image_range():
    """A model that needs pixels above 1 to change its mind: only the unclamped attack can."""
    white, target = torch.ones(1, 1, 2, 2), torch.zeros(1, dtype=torch.long)
    model, eps = Threshold(boundary=1.05), torch.tensor([0.1])
    assert not variants.attack(model, white, target, eps, 10, eps * 0.25, clamp=True)
    assert variants.attack(model, white, target, eps, 10, eps * 0.25, clamp=False)
    assert math.isclose(variants.MNIST_STD, 0.3081)
