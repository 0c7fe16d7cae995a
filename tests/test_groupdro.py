"""Group DRO's mechanism: per-group batch losses and the exponentiated-gradient adversary."""
from __future__ import annotations

import math

import torch

from bench.methods.groupdro import GroupWeights, batch_group_losses


def test_batch_group_losses_are_group_means_and_absent_groups_are_zero():
    losses = torch.tensor([1.0, 3.0, 4.0])
    group_losses, present = batch_group_losses(losses, torch.tensor([5, 5, 7]), num_groups=10)
    assert group_losses[5] == 2.0 and group_losses[7] == 4.0
    assert present.nonzero().flatten().tolist() == [5, 7]
    assert group_losses[~present].eq(0).all()


def test_one_step_matches_exponentiated_gradient_by_hand():
    counts = torch.tensor([0, 0, 0, 0, 0, 8, 0, 2, 0, 5])     # groups 5, 7, 9 non-empty
    adversary = GroupWeights(counts, eta=0.01)
    assert torch.allclose(adversary.q[[5, 7, 9]], torch.full((3,), 1 / 3, dtype=torch.float64))
    group_losses, present = batch_group_losses(torch.tensor([1.0, 3.0, 4.0]),
                                               torch.tensor([5, 5, 7]), num_groups=10)
    adversary.step(group_losses, present)
    # q_g ∝ (1/3) exp(0.01 * loss_g): group 5 has loss 2, group 7 loss 4, group 9 is absent.
    unnormalised = torch.tensor([math.exp(0.02), math.exp(0.04), 1.0], dtype=torch.float64)
    assert torch.allclose(adversary.q[[5, 7, 9]], unnormalised / unnormalised.sum())
    assert math.isclose(adversary.q.sum().item(), 1.0)


def test_weights_move_toward_the_worst_group_and_never_onto_empty_groups():
    counts = torch.tensor([50, 50, 0, 3])                     # group 2 has no examples
    adversary = GroupWeights(counts, eta=0.1)
    groups = torch.tensor([0, 0, 1, 1, 3])
    losses = torch.tensor([0.1, 0.1, 0.5, 0.5, 2.0])          # group 3 is the worst
    history = [adversary.q[3].item()]
    for _ in range(50):
        adversary.step(*batch_group_losses(losses, groups, num_groups=4))
        history.append(adversary.q[3].item())
    assert all(b > a for a, b in zip(history, history[1:]))   # monotone toward the worst group
    assert history[-1] > 0.9
    assert adversary.q[2] == 0 and torch.isfinite(adversary.q).all()
    assert adversary.q[1] > adversary.q[0]                    # ranked by loss


def test_group_adjustment_favours_small_groups_at_equal_loss():
    counts = torch.tensor([100, 4])
    adversary = GroupWeights(counts, eta=0.1, adjustment=1.0)
    adversary.step(torch.tensor([0.5, 0.5]), torch.tensor([True, True]))
    # bonus C / sqrt(n): 0.1 for the big group, 0.5 for the small one.
    expected = torch.tensor([math.exp(0.1 * 0.6), math.exp(0.1 * 1.0)], dtype=torch.float64)
    assert torch.allclose(adversary.q, expected / expected.sum())
