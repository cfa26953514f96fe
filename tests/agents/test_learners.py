import numpy as np
import pytest
import torch

from ptod_agents.config import AOPDConfig, GRPOConfig, LearnToAskConfig, SFTConfig, SIAVPOConfig, STPRConfig
from ptod_agents.offline import (
    REVEALING,
    AskContext,
    LearnToAskLearner,
    SFTLearner,
    ask_contexts,
    ask_reward,
    record_dialogues,
)
from ptod_agents.onpolicy import OnPolicyLearner, Teacher
from ptod_agents.rollout import Start, make_envs, play
from ptod_agents.scoring import turn_advantages, turn_samples
from ptod_env.records import read_episodes

SMALL = {"users_per_update": 1, "group_size": 2, "max_new_tokens": 6, "minibatch_turns": 8, "eval_episodes": 0}


@pytest.fixture(scope="module")
def proactive_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("log") / "proactive.jsonl"
    return record_dialogues("proactive", 3, path, "merchant_recruitment", 0)


def test_lockstep_rollout_records_turns_and_metrics(policy):
    envs = make_envs(policy, 3, "merchant_recruitment", "train")
    starts = [Start(7, {"persona_index": 2002}, 0), Start(7, {"persona_index": 2002}, 0), Start(8, None, 1)]
    episodes = play(policy, envs, starts, max_new_tokens=5, history_turns=1)
    assert [e.group for e in episodes] == [0, 0, 1]
    for episode in episodes:
        assert len(episode.turns) == len(episode.record["turns"]) >= 1
        for turn, logged in zip(episode.turns, episode.record["turns"], strict=True):
            assert len(turn.tokens) == len(turn.logprobs) <= 5
            assert turn.utterance == logged["action"]
            assert turn.transition == logged["transition"]
        assert episode.record["outcome"] is not None


@pytest.mark.parametrize("config_class", [GRPOConfig, STPRConfig, AOPDConfig, SIAVPOConfig])
def test_on_policy_update_changes_weights_and_reports_metrics(policy, config_class):
    extra = {"kl_coef": 0.1} if config_class is GRPOConfig else {}
    learner = OnPolicyLearner(policy, config_class(**SMALL, **extra), np.random.default_rng(0))
    before = [p.detach().clone() for p in policy.model.parameters()]
    metrics = learner.step(0)
    assert "charts/success_rate" in metrics and "perf/forward_backward_s" in metrics
    assert all(k.split("/")[0] in ("charts", "losses", "perf") for k in metrics)
    if metrics.get("losses/grad_norm", 0) > 0:
        assert any(not torch.equal(a, b) for a, b in zip(before, policy.model.parameters(), strict=True))
    if config_class in (AOPDConfig, SIAVPOConfig):
        assert metrics["losses/distillation"] >= 0


def test_stpr_advantages_follow_transitions(policy):
    envs = make_envs(policy, 2, "merchant_recruitment", "train")
    starts = [Start(1, {"persona_index": 2000}, 0)] * 2
    episodes = play(policy, envs, starts, max_new_tokens=4, with_teacher=True, history_turns=1)
    grpo = turn_advantages(episodes, GRPOConfig())
    stpr = turn_advantages(episodes, STPRConfig(lam=1.0))
    for episode in episodes:
        assert len(set(grpo[id(episode)])) == 1  # one outcome advantage for every turn
        assert len(stpr[id(episode)]) == len(episode.turns)
    samples = turn_samples(episodes, stpr)
    assert all(s.teacher_prompt and s.teacher_prompt != s.prompt for s in samples)


def test_ema_teacher_moves_toward_the_student(policy):
    teacher = Teacher(policy.model, "ema", ema_decay=0.5)
    with torch.no_grad():
        for p in policy.model.parameters():
            p.add_(1.0)
    old = [p.clone() for p in teacher.model.parameters()]
    teacher.after_update(policy.model)
    for t_old, t_new, s in zip(old, teacher.model.parameters(), policy.model.parameters(), strict=True):
        assert torch.allclose(t_new, 0.5 * t_old + 0.5 * s)
    frozen = Teacher(policy.model, "frozen", 0.9)
    assert frozen.model is not policy.model and not any(p.requires_grad for p in frozen.model.parameters())
    assert Teacher(policy.model, "live", 0.9).model is policy.model


def test_sft_learns_the_logged_lines(policy, proactive_log, tmp_path):
    config = SFTConfig(data=(f"{proactive_log}:student", f"{proactive_log}:teacher"), batch_size=8, lr=3e-3)
    learner = SFTLearner(policy, config, np.random.default_rng(0), tmp_path)
    first = learner.step(0)["losses/nll"]
    for update in range(1, 15):
        last = learner.step(update)["losses/nll"]
    assert last < first


def test_ask_contexts_read_the_observed_future(proactive_log):
    records = read_episodes(proactive_log)
    contexts = ask_contexts(records)
    assert len(contexts) == sum(len(r["turns"]) for r in records)
    first = contexts[0]
    later = {t["user_act"]["concern"] for t in records[0]["turns"] if t["user_act"]["act"] in REVEALING}
    assert first.revealed == later and first.history == ()
    assert any(c.closed for c in contexts)


def test_ask_contexts_count_only_revealing_user_acts():
    def turn(act, concern):
        return {"observation": "o", "action": "a", "agent_acts": [], "user_act": {"act": act, "concern": concern}}

    record = {"turns": [turn("acknowledge", "commission"), turn("resolved", "food_quality"), turn("hint", "tablet")]}
    first, second, third = ask_contexts([record])
    assert first.revealed == second.revealed == third.revealed == frozenset({"tablet"})
    record = {"turns": [turn("voice", "commission"), turn("object", "payout_timing"), turn("follow_up", "x")]}
    assert [c.revealed for c in ask_contexts([record])] == [
        frozenset({"commission", "payout_timing"}),
        frozenset({"payout_timing"}),
        frozenset(),
    ]


def test_ask_reward_terms():
    context = AskContext("obs", (), closed=False, revealed=frozenset({"commission"}))
    assert ask_reward([("probe", "commission")], True, context, 2.0, 0.1) == pytest.approx(3.1)
    assert ask_reward([("probe", "payout_timing")], True, context, 2.0, 0.1) == pytest.approx(1.1)
    assert ask_reward([("close", None)], True, context, 2.0, 0.1) == pytest.approx(0.1)
    assert ask_reward([("unintelligible", None)], False, context, 2.0, 0.1) == pytest.approx(1.0)


def test_learn_to_ask_update(policy, proactive_log, tmp_path):
    config = LearnToAskConfig(data=str(proactive_log), contexts_per_update=2, group_size=3, max_new_tokens=6)
    metrics = LearnToAskLearner(policy, config, np.random.default_rng(0), tmp_path).step(0)
    assert metrics["charts/ask_reward"] >= 0
