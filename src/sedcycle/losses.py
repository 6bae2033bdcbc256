"""Training losses: stage 1's clipwise BCE and stage 2's masked BCE (with optional weak
negatives or soft teacher targets on its unknown pairs)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def clipwise_bce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Stage 1: BCE-with-logits over every (window, species), unknown counted as absent.

    logits, targets: [B, n_species]; targets in {0, 1} (or {-1, 0, 1}, where only +1 is positive),
    or soft targets in [0, 1] (mixup's blends).
    """
    return F.binary_cross_entropy_with_logits(logits, targets.clamp(min=0).to(logits.dtype))


def masked_bce(
    logits: torch.Tensor,
    targets: torch.Tensor,
    scale_positives: bool = False,
    unknown_weight: float = 0.0,
    soft: torch.Tensor | None = None,
    soft_weight: float = 0.0,
) -> torch.Tensor:
    """Stage 2: BCE on labelled (window, species) pairs only.

    logits: [B, n_species]; targets: [B, n_species] in {+1 positive, -1 negative, 0 unknown}.
    Loss = (sum of BCE(logit, 1) over positives + sum of BCE(logit, 0) over negatives) / B;
    unknown pairs contribute nothing. With ``scale_positives`` the positive sum is divided by
    the number of positives in the batch instead (the source team found this helped once
    pseudo-labels multiply the positives). ``unknown_weight`` > 0 (not the source's recipe)
    counts each unknown pair as a negative of that weight: 0 is the masked loss, 1 stage 1's
    "unknown = absent". ``soft_weight`` > 0 (not the source's recipe either) pulls each unknown
    pair towards ``soft`` ([B, n_species], the previous round's mean fold probability): the
    KL divergence KL(soft || sigmoid(logit)) = BCE(logit, soft) - H(soft), summed and divided
    by B like the negatives, so that absent species learn low scores where the teacher gives
    them and the loss is 0 when the model matches its teacher.
    """
    positive = (targets > 0).to(logits.dtype)
    negative = (targets < 0).to(logits.dtype)
    if unknown_weight:
        negative = negative + unknown_weight * (targets == 0).to(logits.dtype)
    positive_loss = (F.softplus(-logits) * positive).sum()  # BCE(logit, 1) = softplus(-logit)
    negative_loss = (F.softplus(logits) * negative).sum()  # BCE(logit, 0) = softplus(logit)
    batch = logits.shape[0]
    if soft_weight:
        if soft is None:
            raise ValueError("soft_weight > 0 needs the teacher's probabilities (soft)")
        if soft.shape != logits.shape:
            raise ValueError(f"soft targets {tuple(soft.shape)} != logits {tuple(logits.shape)}")
        soft = soft.to(logits.dtype)
        p = soft.clamp(1e-7, 1 - 1e-7)
        entropy = -(p * p.log() + (1 - p) * (1 - p).log())
        kl = F.binary_cross_entropy_with_logits(logits, soft, reduction="none") - entropy
        negative_loss = negative_loss + soft_weight * (kl * (targets == 0)).sum()
    if scale_positives:
        return positive_loss / positive.sum().clamp(min=1) + negative_loss / batch
    return (positive_loss + negative_loss) / batch
