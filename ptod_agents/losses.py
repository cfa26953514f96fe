"""Losses and advantages: pure functions on tensors.

Shapes: ``B`` sequences (agent turns), ``T`` completion positions, ``V`` vocabulary, ``G``
episodes of one group, ``K`` turns per episode (padded). ``mask`` tensors are 1.0 on real
entries and 0.0 on padding; every token-level loss is a mean over the real entries of the batch
(each agent token weighs the same, whatever its turn's length).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ptod_agents.config import DIVERGENCES


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` over entries where ``mask`` is 1 (0 when the mask is empty)."""
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def reverse_kl(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    """KL(p_S ‖ p_T) per position: (…, V), (…, V) → (…). Mode-seeking: the student is pushed off
    tokens the teacher finds unlikely."""
    log_s = torch.log_softmax(student_logits, dim=-1)
    log_t = torch.log_softmax(teacher_logits, dim=-1)
    return (log_s.exp() * (log_s - log_t)).sum(-1)


def forward_kl(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    """KL(p_T ‖ p_S) per position: (…, V), (…, V) → (…). Mass-covering: the student must put
    mass wherever the teacher does."""
    return reverse_kl(teacher_logits, student_logits)


def generalized_jsd(student_logits: Tensor, teacher_logits: Tensor, alpha: float) -> Tensor:
    """Generalized Jensen-Shannon divergence per position, as GKD / TRL define it:
    with M = α·p_T + (1−α)·p_S, JSD(α) = α·KL(p_T ‖ M) + (1−α)·KL(p_S ‖ M). (…, V) → (…).

    The formula vanishes at the endpoints, so, as in TRL, ``alpha=0`` gives forward KL and
    ``alpha=1`` reverse KL.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if alpha == 0.0:
        return forward_kl(student_logits, teacher_logits)
    if alpha == 1.0:
        return reverse_kl(student_logits, teacher_logits)
    log_s = torch.log_softmax(student_logits, dim=-1)
    log_t = torch.log_softmax(teacher_logits, dim=-1)
    log_m = torch.logsumexp(torch.stack([log_t + math.log(alpha), log_s + math.log(1 - alpha)]), dim=0)
    kl_t = (log_t.exp() * (log_t - log_m)).sum(-1)
    kl_s = (log_s.exp() * (log_s - log_m)).sum(-1)
    return alpha * kl_t + (1 - alpha) * kl_s


def sampled_token_kl(student_logits: Tensor, teacher_logits: Tensor, tokens: Tensor) -> Tensor:
    """Per-position surrogate whose gradient, in expectation over tokens sampled from p_S, is the
    gradient of KL(p_S ‖ p_T): sg(log p_S(y) − log p_T(y)) · log p_S(y). (…, V), (…, V), (…) → (…).

    It reads only the sampled token's log-probs, so it is what a teacher that exposes no full
    distribution (an API) could support. Its value is the one-sample KL estimate.
    """
    log_s = torch.log_softmax(student_logits, dim=-1).gather(-1, tokens[..., None]).squeeze(-1)
    log_t = torch.log_softmax(teacher_logits, dim=-1).gather(-1, tokens[..., None]).squeeze(-1)
    gap = (log_s - log_t).detach()
    # The value equals the estimate `gap`; the gradient is gap · ∇log p_S(y).
    return gap * log_s - (gap * log_s).detach() + gap


def distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    mask: Tensor,
    divergence: str = "reverse_kl",
    alpha: float = 0.5,
    tokens: Tensor | None = None,
) -> Tensor:
    """Mean token divergence D(p_S ‖ sg p_T) over agent tokens.

    Args:
        student_logits: (B, T, V), with gradient.
        teacher_logits: (B, T, V); detached here whatever the caller passes.
        mask: (B, T) agent-token mask.
        divergence: one of :data:`DIVERGENCES`.
        alpha: the JSD mixture weight (``divergence="jsd"`` only).
        tokens: (B, T) the sampled tokens (``divergence="sampled_token"`` only).
    """
    teacher_logits = teacher_logits.detach()
    if divergence == "reverse_kl":
        per_token = reverse_kl(student_logits, teacher_logits)
    elif divergence == "forward_kl":
        per_token = forward_kl(student_logits, teacher_logits)
    elif divergence == "jsd":
        per_token = generalized_jsd(student_logits, teacher_logits, alpha)
    elif divergence == "sampled_token":
        if tokens is None:
            raise ValueError("divergence='sampled_token' needs the sampled tokens")
        per_token = sampled_token_kl(student_logits, teacher_logits, tokens)
    else:
        raise ValueError(f"divergence must be one of {DIVERGENCES}, got {divergence!r}")
    return masked_mean(per_token, mask)


def group_normalized(rewards: Tensor, eps: float = 1e-6) -> Tensor:
    """GRPO outcome advantages of one group: (G,) → (G,), (R − mean) / (std + eps).

    The std is the population std (a group of identical rewards gives all zeros)."""
    return (rewards - rewards.mean()) / (rewards.std(unbiased=False) + eps)


def returns_to_go(turn_rewards: Tensor, mask: Tensor) -> Tensor:
    """Undiscounted sum of each turn's reward and the rewards after it: (G, K), (G, K) → (G, K)."""
    masked = turn_rewards * mask
    return masked.flip(-1).cumsum(-1).flip(-1) * mask


def stpr_additive(
    outcome_advantages: Tensor,
    turn_rewards: Tensor,
    mask: Tensor,
    lam: float,
    eps: float = 1e-6,
    credit: str = "turn_baseline",
) -> Tensor:
    """STPR turn advantages, additive variant: A_{i,k} = A^E_i + λ·Â^T_{i,k}.

    Â^T is normalized over every real turn of the group (mean and population std across episodes
    *and* turns), so a turn is credited relative to all turns played for the same user. What is
    normalized depends on ``credit``:

    * ``"turn_reward"`` (default): the turn's own reward r_{i,k}, i.e. what this turn changed.
    * ``"turn_baseline"`` (default): the turn's own reward r_{i,k} minus the mean reward of the
      group's turns at the same index k, i.e. what this turn changed compared with what the other
      calls for this user changed at the same point. A turn that is the only one at its index
      (the others ended) gets no turn-level credit, only A^E.
    * ``"turn_reward"``: r_{i,k} itself. In this simulator early turns build trust and late
      turns spend patience, so r alone is still mostly turn position (docs/RESULTS.md).
    * ``"return_to_go"``: Σ_{j≥k} r_{i,j}. It telescopes to Φ(final) − Φ(s_{k−1}), so early turns
      (low Φ before them) get high credit and late turns low credit whatever they did.

    The centred or raw signal is then divided by its population std over the group's real turns.

    Args:
        outcome_advantages: (G,) A^E, e.g. :func:`group_normalized` of the episode rewards.
        turn_rewards: (G, K) r_{i,k} = Φ(s_k) − Φ(s_{k−1}).
        mask: (G, K) real turns.
        lam: λ, the weight of the transition term.
        eps: added to the std.
        credit: ``"turn_baseline"``, ``"turn_reward"`` or ``"return_to_go"``.
    Returns:
        (G, K) advantages, 0 on padding.
    """
    count = mask.sum().clamp(min=1.0)
    if credit == "turn_baseline":
        signal = turn_rewards * mask
        at_index = (signal.sum(0) / mask.sum(0).clamp(min=1.0))[None, :]
        centred = (signal - at_index) * mask
    elif credit in ("turn_reward", "return_to_go"):
        signal = turn_rewards * mask if credit == "turn_reward" else returns_to_go(turn_rewards, mask)
        centred = (signal - (signal * mask).sum() / count) * mask
    else:
        raise ValueError(f"credit must be one of 'turn_baseline', 'turn_reward', 'return_to_go', got {credit!r}")
    std = (centred**2).sum().div(count).sqrt()
    return (outcome_advantages[:, None] + lam * centred / (std + eps)) * mask


def stpr_sign(outcome_advantages: Tensor, turn_rewards: Tensor, mask: Tensor) -> Tensor:
    """STPR turn advantages, sign-refinement variant: A_{i,k} = |A^E_i|·sign(Δ_k) where the
    turn's transition changed the potential (Δ_k = r_{i,k} ≠ 0), else A^E_i.

    The outcome fixes the magnitude; the transition says whether this turn moved the user
    forward or back. (G,), (G, K), (G, K) → (G, K), 0 on padding.
    """
    sign = torch.sign(turn_rewards)
    refined = torch.where(sign != 0, outcome_advantages[:, None].abs() * sign, outcome_advantages[:, None])
    return refined * mask


def k3_kl(logprobs: Tensor, ref_logprobs: Tensor) -> Tensor:
    """Schulman's k3 estimator of KL(π ‖ π_ref) per sampled token: e^{ref−π} − (ref−π) − 1 ≥ 0."""
    gap = ref_logprobs - logprobs
    return gap.exp() - gap - 1


def clipped_pg_loss(
    logprobs: Tensor,
    old_logprobs: Tensor,
    advantages: Tensor,
    mask: Tensor,
    clip: float = 0.2,
    ref_logprobs: Tensor | None = None,
    kl_coef: float = 0.0,
) -> tuple[Tensor, dict[str, Tensor]]:
    """PPO-clipped policy-gradient loss over agent tokens, with optional k3 KL to a reference.

    Args:
        logprobs: (B, T) current log-probs of the sampled tokens (with gradient).
        old_logprobs: (B, T) log-probs when sampled.
        advantages: (B, T) per-token advantages (a turn's advantage broadcast over its tokens).
        mask: (B, T) agent-token mask.
        clip: ε of the ratio clip [1 − ε, 1 + ε].
        ref_logprobs: (B, T) reference log-probs; required when ``kl_coef > 0``.
        kl_coef: weight of the k3 KL term.
    Returns:
        The scalar loss and detached stats (``clip_fraction``, ``kl``, ``ratio``).
    """
    ratio = (logprobs - old_logprobs).exp()
    unclipped = ratio * advantages
    clipped = ratio.clamp(1 - clip, 1 + clip) * advantages
    loss = -masked_mean(torch.minimum(unclipped, clipped), mask)
    stats = {
        "clip_fraction": masked_mean(((ratio - 1).abs() > clip).float(), mask).detach(),
        "ratio": masked_mean(ratio, mask).detach(),
    }
    if kl_coef > 0:
        if ref_logprobs is None:
            raise ValueError("kl_coef > 0 needs ref_logprobs")
        kl = masked_mean(k3_kl(logprobs, ref_logprobs), mask)
        loss = loss + kl_coef * kl
        stats["kl"] = kl.detach()
    return loss, stats


def nll_loss(logprobs: Tensor, mask: Tensor) -> Tensor:
    """Supervised loss: mean negative log-likelihood of the target tokens, (B, T), (B, T) → ()."""
    return -masked_mean(logprobs, mask)
