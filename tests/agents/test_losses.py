import math

import pytest
import torch

from ptod_agents import losses


def test_kl_direction_on_toy_distributions():
    # p_S puts its mass where p_T has almost none: reverse KL(p_S‖p_T) is large,
    # forward KL(p_T‖p_S) only pays for the mass p_T puts where p_S is thin.
    p_s = torch.tensor([0.98, 0.01, 0.01])
    p_t = torch.tensor([0.01, 0.49, 0.50])
    expected_reverse = float((p_s * (p_s / p_t).log()).sum())
    expected_forward = float((p_t * (p_t / p_s).log()).sum())
    assert losses.reverse_kl(p_s.log(), p_t.log()).item() == pytest.approx(expected_reverse, rel=1e-5)
    assert losses.forward_kl(p_s.log(), p_t.log()).item() == pytest.approx(expected_forward, rel=1e-5)
    assert expected_reverse != pytest.approx(expected_forward, rel=1e-2)


def test_reverse_kl_is_mode_seeking():
    # A bimodal teacher: reverse KL prefers a student on one mode, forward KL a student covering both.
    teacher = torch.tensor([0.5, 0.5, 1e-6]).log()
    one_mode = torch.tensor([0.999, 0.0005, 0.0005]).log()
    covering = torch.tensor([0.34, 0.33, 0.33]).log()
    assert losses.reverse_kl(one_mode, teacher) < losses.reverse_kl(covering, teacher)
    assert losses.forward_kl(covering, teacher) < losses.forward_kl(one_mode, teacher)


def test_divergences_vanish_on_equal_distributions_and_are_positive_otherwise():
    torch.manual_seed(0)
    a, b = torch.randn(4, 5, 11), torch.randn(4, 5, 11)
    for fn in (losses.reverse_kl, losses.forward_kl, lambda s, t: losses.generalized_jsd(s, t, 0.3)):
        assert torch.allclose(fn(a, a), torch.zeros(4, 5), atol=1e-5)
        assert (fn(a, b) > 0).all()


def test_jsd_endpoints_and_symmetry():
    torch.manual_seed(1)
    s, t = torch.randn(3, 7), torch.randn(3, 7)
    assert torch.allclose(losses.generalized_jsd(s, t, 0.0), losses.forward_kl(s, t))
    assert torch.allclose(losses.generalized_jsd(s, t, 1.0), losses.reverse_kl(s, t))
    assert torch.allclose(losses.generalized_jsd(s, t, 0.5), losses.generalized_jsd(t, s, 0.5), atol=1e-6)
    assert (losses.generalized_jsd(s, t, 0.5) <= math.log(2) + 1e-6).all()
    with pytest.raises(ValueError, match="alpha"):
        losses.generalized_jsd(s, t, 1.5)


def test_sampled_token_gradient_matches_reverse_kl_in_expectation():
    torch.manual_seed(2)
    student = torch.randn(6, requires_grad=True)
    teacher = torch.randn(6)
    exact = torch.autograd.grad(losses.reverse_kl(student, teacher), student)[0]
    probs = torch.softmax(student, -1).detach()
    # The expectation over tokens, computed exactly by weighting each token's surrogate gradient.
    expected = torch.zeros(6)
    for token in range(6):
        value = losses.sampled_token_kl(student, teacher, torch.tensor(token))
        expected += probs[token] * torch.autograd.grad(value, student)[0]
    assert torch.allclose(expected, exact, atol=1e-5)


def test_distillation_loss_ignores_padding_and_detaches_teacher():
    torch.manual_seed(3)
    student = torch.randn(2, 4, 9, requires_grad=True)
    teacher = torch.randn(2, 4, 9, requires_grad=True)
    mask = torch.tensor([[1.0, 1, 0, 0], [1, 1, 1, 1]])
    tokens = torch.randint(0, 9, (2, 4))
    for kind in losses.DIVERGENCES:
        loss = losses.distillation_loss(student, teacher, mask, kind, 0.5, tokens)
        grad_s, grad_t = torch.autograd.grad(loss, [student, teacher], allow_unused=True)
        assert grad_t is None or torch.count_nonzero(grad_t) == 0
        assert torch.count_nonzero(grad_s[0, 2:]) == 0
    with pytest.raises(ValueError, match="divergence"):
        losses.distillation_loss(student, teacher, mask, "l2")


def test_group_normalized():
    adv = losses.group_normalized(torch.tensor([1.0, 0.0, 0.0, 1.0]))
    assert torch.allclose(adv, torch.tensor([1.0, -1, -1, 1]), atol=1e-4)
    assert torch.equal(losses.group_normalized(torch.zeros(5)), torch.zeros(5))


def test_returns_to_go_respects_mask():
    rewards = torch.tensor([[1.0, 2.0, 3.0], [1.0, 5.0, 0.0]])
    mask = torch.tensor([[1.0, 1, 1], [1, 1, 0]])
    assert torch.equal(losses.returns_to_go(rewards, mask), torch.tensor([[6.0, 5, 3], [6, 5, 0]]))


def test_stpr_additive_gives_signal_when_outcomes_tie():
    # The reactive plateau: every episode failed, GRPO's advantages are all zero, but the
    # transitions still rank the turns.
    outcome = losses.group_normalized(torch.zeros(2))
    rewards = torch.tensor([[0.2, 0.1], [-0.1, 0.0]])
    mask = torch.ones(2, 2)
    adv = losses.stpr_additive(outcome, rewards, mask, lam=0.5)
    assert adv[0, 0] > 0 > adv[1, 0]
    assert torch.allclose(adv[mask.bool()].mean(), torch.tensor(0.0), atol=1e-6)
    padded = losses.stpr_additive(outcome, rewards, torch.tensor([[1.0, 1], [1, 0]]), lam=0.5)
    assert padded[1, 1] == 0


def test_stpr_additive_values_for_each_credit():
    outcome = torch.tensor([1.0, -1.0])
    rewards = torch.tensor([[0.3, 0.1, -0.2], [0.1, -0.1, 0.0]])
    mask = torch.tensor([[1.0, 1, 1], [1, 1, 0]])

    def expected(signal):
        std = (signal[mask.bool()] ** 2).mean().sqrt()
        return (outcome[:, None] + 0.5 * signal / std) * mask

    # turn_baseline: each turn minus the mean of the turns at its index; a lone last turn gets 0.
    centred = torch.tensor([[0.1, 0.1, 0.0], [-0.1, -0.1, 0.0]])
    adv = losses.stpr_additive(outcome, rewards, mask, lam=0.5)
    assert torch.allclose(adv, expected(centred), atol=1e-5)
    assert adv[0, 2] == pytest.approx(1.0)
    rtg = torch.tensor([[0.2, -0.1, -0.2], [0.0, -0.1, 0.0]])
    for credit, signal in (("turn_reward", rewards), ("return_to_go", rtg)):
        mean = signal[mask.bool()].mean()
        got = losses.stpr_additive(outcome, rewards, mask, 0.5, credit=credit)
        assert torch.allclose(got, expected((signal - mean) * mask), atol=1e-5)
    with pytest.raises(ValueError, match="credit"):
        losses.stpr_additive(outcome, rewards, mask, 0.5, credit="position")


def test_stpr_turn_baseline_is_not_turn_position():
    # Every call gains early and loses late (trust, then patience): the raw turn reward is pure
    # position, the per-index baseline removes it and keeps what differs between calls.
    rewards = torch.tensor([[0.3, 0.0, -0.3], [0.2, -0.1, -0.4], [0.4, 0.1, -0.2]])
    mask = torch.ones(3, 3)
    outcome = torch.zeros(3)
    position = torch.arange(3.0).expand(3, 3).flatten()
    raw = losses.stpr_additive(outcome, rewards, mask, 1.0, credit="turn_reward").flatten()
    based = losses.stpr_additive(outcome, rewards, mask, 1.0).flatten()
    assert torch.corrcoef(torch.stack([raw, position]))[0, 1] < -0.9
    assert abs(torch.corrcoef(torch.stack([based, position]))[0, 1]) < 1e-5
    assert based[6] > 0 > based[3]  # the third call did better than the second at every turn


def test_clipped_pg_loss_negative_advantage_branches():
    # A < 0: a ratio already below 1 − ε is clipped (no push further down); a ratio above 1 + ε is
    # not (the pessimistic branch keeps the gradient that lowers it).
    for old, clipped in ((1.0, True), (-1.0, False)):
        logprobs = torch.tensor([[0.0]], requires_grad=True)
        loss, stats = losses.clipped_pg_loss(logprobs, torch.tensor([[old]]), -torch.ones(1, 1), torch.ones(1, 1))
        (grad,) = torch.autograd.grad(loss, logprobs)
        ratio = math.exp(-old)
        if clipped:
            assert loss.item() == pytest.approx(0.8) and grad.item() == 0
        else:
            assert loss.item() == pytest.approx(ratio) and grad.item() == pytest.approx(ratio)
        assert stats["clip_fraction"] == 1


def test_stpr_sign_keeps_magnitude_and_flips_by_transition():
    outcome = torch.tensor([1.0, -2.0])
    rewards = torch.tensor([[0.3, -0.1, 0.0], [0.2, -0.4, 0.0]])
    mask = torch.tensor([[1.0, 1, 1], [1, 1, 0]])
    adv = losses.stpr_sign(outcome, rewards, mask)
    assert torch.equal(adv, torch.tensor([[1.0, -1.0, 1.0], [2.0, -2.0, 0.0]]))


def test_clipped_pg_loss_on_policy_gradient_is_advantage_weighted_logprob():
    torch.manual_seed(4)
    logprobs = torch.randn(3, 5).clamp(max=-0.1).requires_grad_()
    adv = torch.randn(3, 1).expand(3, 5)
    mask = torch.ones(3, 5)
    loss, stats = losses.clipped_pg_loss(logprobs, logprobs.detach(), adv, mask)
    (grad,) = torch.autograd.grad(loss, logprobs)
    assert torch.allclose(grad, -adv / 15)
    assert stats["clip_fraction"] == 0


def test_clipped_pg_loss_clips_and_adds_k3():
    logprobs = torch.tensor([[0.0]], requires_grad=True)
    old = torch.tensor([[-1.0]])  # ratio e > 1.2
    loss, stats = losses.clipped_pg_loss(logprobs, old, torch.ones(1, 1), torch.ones(1, 1))
    assert loss.item() == pytest.approx(-1.2)
    assert stats["clip_fraction"] == 1
    (grad,) = torch.autograd.grad(loss, logprobs)
    assert grad.item() == 0
    ref = torch.tensor([[-0.5]])
    loss_kl, stats = losses.clipped_pg_loss(logprobs, old, torch.ones(1, 1), torch.ones(1, 1), 0.2, ref, 0.1)
    assert stats["kl"].item() == pytest.approx(math.exp(-0.5) + 0.5 - 1)
    assert loss_kl.item() == pytest.approx(-1.2 + 0.1 * stats["kl"].item())
    with pytest.raises(ValueError, match="ref_logprobs"):
        losses.clipped_pg_loss(logprobs, old, torch.ones(1, 1), torch.ones(1, 1), kl_coef=0.1)


def test_k3_is_non_negative():
    torch.manual_seed(5)
    assert (losses.k3_kl(torch.randn(100), torch.randn(100)) >= 0).all()
