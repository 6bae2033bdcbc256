import pytest
import torch
import torch.nn.functional as F

from sedcycle.losses import clipwise_bce, masked_bce


def test_masked_bce_ignores_unknown_pairs():
    logits = torch.tensor([[2.0, -1.0, 5.0], [0.5, 0.0, -3.0]])
    targets = torch.tensor([[1, -1, 0], [0, 0, 1]])
    expected = (
        F.softplus(torch.tensor(-2.0))
        + F.softplus(torch.tensor(-1.0))
        + F.softplus(torch.tensor(3.0))
    ) / 2
    assert torch.isclose(masked_bce(logits, targets), expected)
    changed = logits.clone()
    changed[0, 2] = -50.0  # an unknown pair: loss must not move
    assert torch.isclose(masked_bce(changed, targets), expected)


def test_scale_positives_divides_by_positive_count():
    logits = torch.zeros(2, 2)
    targets = torch.tensor([[1, 1], [1, -1]])
    scaled = masked_bce(logits, targets, scale_positives=True)
    log2 = torch.log(torch.tensor(2.0))
    assert torch.isclose(scaled, log2 + log2 / 2)


def test_clipwise_bce_treats_unknown_and_negative_as_absent():
    logits = torch.tensor([[1.0, -1.0, 0.0]])
    expected = F.binary_cross_entropy_with_logits(logits, torch.tensor([[1.0, 0.0, 0.0]]))
    assert torch.isclose(clipwise_bce(logits, torch.tensor([[1, -1, 0]])), expected)


def test_unknown_weight_counts_unknown_pairs_as_weighted_negatives():
    logits = torch.tensor([[2.0, -1.0, 5.0], [0.5, 0.0, -3.0]])
    targets = torch.tensor([[1, -1, 0], [0, 0, 1]])
    unknown = (
        F.softplus(torch.tensor(5.0))
        + F.softplus(torch.tensor(0.5))
        + F.softplus(torch.tensor(0.0))
    )
    for weight in (0.0, 0.25, 1.0):
        expected = masked_bce(logits, targets) + weight * unknown / 2
        assert torch.isclose(masked_bce(logits, targets, unknown_weight=weight), expected)
    # weight 1 is stage 1's loss up to the mean over pairs (unknown and -1 both absent)
    full = masked_bce(logits, targets, unknown_weight=1.0)
    assert torch.isclose(full, clipwise_bce(logits, targets) * 3)


def test_soft_weight_pulls_unknown_pairs_towards_the_teacher():
    logits = torch.tensor([[2.0, -1.0, 5.0], [0.5, 0.0, -3.0]])
    targets = torch.tensor([[1, -1, 0], [0, 0, 1]])
    soft = torch.tensor([[0.9, 0.9, 0.2], [0.3, 0.5, 0.9]])
    unknown = targets == 0
    p = soft[unknown]
    kl = (
        F.binary_cross_entropy_with_logits(logits[unknown], p, reduction="sum")
        + (p * p.log() + (1 - p) * (1 - p).log()).sum()
    )
    for weight in (0.5, 2.0):
        expected = masked_bce(logits, targets) + weight * kl / 2
        got = masked_bce(logits, targets, soft=soft, soft_weight=weight)
        assert torch.isclose(got, expected)
    # labelled pairs ignore the teacher; a model equal to its teacher pays nothing extra
    matched = logits.clone()
    matched[unknown] = torch.logit(p)
    other_teacher = soft.clone()
    other_teacher[~unknown] = 0.01
    assert torch.isclose(
        masked_bce(matched, targets, soft=other_teacher, soft_weight=1.0),
        masked_bce(matched, targets),
    )
    assert torch.isclose(
        masked_bce(logits, targets, soft=soft, soft_weight=0.0), masked_bce(logits, targets)
    )


def test_unknown_weight_with_soft_targets_shrinks_them_towards_absent():
    """Both on the unknown pairs: the sum of the two terms, which is (w + s) x BCE towards the
    teacher's probabilities shrunk to s q / (w + s), up to a constant (the teacher's entropy)."""
    logits = torch.tensor([[2.0, -1.0, 5.0], [0.5, 0.0, -3.0]])
    targets = torch.tensor([[1, -1, 0], [0, 0, 1]])
    soft = torch.tensor([[0.9, 0.9, 0.2], [0.3, 0.5, 0.9]])
    unknown = targets == 0
    w, s = 0.1, 1.0
    combined = masked_bce(logits, targets, unknown_weight=w, soft=soft, soft_weight=s)
    parts = (
        masked_bce(logits, targets, unknown_weight=w)
        + masked_bce(logits, targets, soft=soft, soft_weight=s)
        - masked_bce(logits, targets)
    )
    assert torch.isclose(combined, parts)

    def shrunk(logits):
        bce = F.binary_cross_entropy_with_logits(
            logits[unknown], s * soft[unknown] / (w + s), reduction="sum"
        )
        labelled = masked_bce(logits, targets)
        return labelled + (w + s) * bce / logits.shape[0]

    other = logits + torch.tensor([[0.0, 0.0, -2.0], [1.5, -0.7, 0.0]])
    constant = combined - shrunk(logits)
    again = masked_bce(other, targets, unknown_weight=w, soft=soft, soft_weight=s)
    assert torch.isclose(again - shrunk(other), constant, atol=1e-6)


def test_soft_weight_without_teacher_scores_is_an_error():
    logits, targets = torch.zeros(2, 3), torch.zeros(2, 3)
    with pytest.raises(ValueError, match="teacher"):
        masked_bce(logits, targets, soft_weight=1.0)
    with pytest.raises(ValueError, match="soft targets"):
        masked_bce(logits, targets, soft=torch.zeros(2, 2), soft_weight=1.0)


def test_clipwise_bce_takes_soft_targets():
    """Mixup's blended targets in [0, 1] are trained as they are; -1 (fp) still counts as 0."""
    logits = torch.tensor([[0.3, -1.2, 2.0]])
    soft = torch.tensor([[0.25, 0.0, 1.0]])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, soft)
    torch.testing.assert_close(clipwise_bce(logits, soft), expected)
    hard = torch.tensor([[1, -1, 0]], dtype=torch.int8)
    torch.testing.assert_close(
        clipwise_bce(logits, hard),
        torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor([[1.0, 0, 0]])),
    )
