"""The TRL adapter: a real GRPOTrainer over a very small model built on the fly.

Checks that a whole call is one consistent token sequence (env_mask 1 exactly on the model's own
tokens, log-probs equal to TRL's own re-scoring), that the extra fields are what the Gymnasium env
gives on the same seeds and actions, and that GRPO, STPR and AOPD steps run and do what they say.
"""

import pytest

pytest.importorskip("trl")

import gymnasium as gym
import torch
from transformers import AutoModelForCausalLM

from ptod_agents.config import AOPDConfig, STPRConfig
from ptod_agents.integrations.trl import (
    TRAINERS,
    CallRollout,
    CallUser,
    acceptance_reward,
    call_dataset,
    chat_ids,
    evaluate_calls,
    grpo_config,
    logged_contexts,
    make_trainer,
    play_calls,
    shaped_reward,
)
from ptod_agents.losses import distillation_loss
from ptod_agents.policy import Policy
from ptod_agents.presets import Preset, build_model, build_tokenizer, tokenizer_corpus
from ptod_agents.rollout import make_envs
from ptod_agents.scoring import turn_advantages
from ptod_env.evaluation import env_id_for, episode_options
from ptod_env.shaping import transition_reward
from wrappers import ChatMessages, PrivilegedView

DOMAIN = "merchant_recruitment"
GENERATIONS = 2
SMALL = Preset(vocab_size=512, hidden_size=32, layers=1, heads=2, intermediate_size=64, max_positions=1024)


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer(SMALL, tokenizer_corpus())


@pytest.fixture(scope="module")
def dataset():
    return call_dataset(DOMAIN, "train", users=6, seed=3)


def trainer_for(tokenizer, dataset, tmp_path, algo="grpo", reward=acceptance_reward, **kwargs):
    torch.manual_seed(0)
    args = grpo_config(str(tmp_path), steps=1, users=2, calls_per_user=GENERATIONS, lr=1e-2)
    model = build_model(SMALL, tokenizer, seed=0)
    return make_trainer(
        algo, model, tokenizer, args, dataset, reward_funcs=[reward], domain=DOMAIN, max_new_tokens=12, **kwargs
    )


@pytest.fixture(scope="module")
def played(tokenizer, dataset, tmp_path_factory):
    """One rollout batch: two users, GENERATIONS calls each, as GRPOTrainer would ask for it."""
    trainer = trainer_for(tokenizer, dataset, tmp_path_factory.mktemp("trl"))
    prompts = [dataset[0]["prompt"]] * GENERATIONS + [dataset[1]["prompt"]] * GENERATIONS
    trainer.model.train()
    return trainer, prompts, trainer.rollout_func(prompts, trainer)


def test_dataset_has_one_row_per_user_on_the_evaluated_users():
    test = call_dataset(DOMAIN, "test", users=5, seed=10)
    assert test["seed"] == [10, 11, 12, 13, 14]
    assert test["persona_index"] == [episode_options("test", i)["persona_index"] for i in range(5)]
    env = ChatMessages(gym.make(env_id_for(DOMAIN), split="test"))
    opening, _ = env.reset(seed=12, options={"persona_index": test[2]["persona_index"]})
    assert test[2]["prompt"] == list(opening)
    assert [m["role"] for m in test[0]["prompt"]] == ["system", "user"]


def test_env_mask_is_one_exactly_on_the_models_own_tokens(played):
    trainer, _, out = played
    assert trainer.model.training, "the rollout must leave the model in the trainer's mode"
    for completion, logprobs, mask, spans, episode in zip(
        out["completion_ids"], out["logprobs"], out["env_mask"], out["agent_turn_spans"], out["episode"], strict=True
    ):
        assert len(completion) == len(logprobs) == len(mask)
        own = [0] * len(completion)
        for start, end in spans:
            own[start:end] = [1] * (end - start)
        assert mask == own
        assert spans[-1][1] == len(completion), "a call ends with the agent's last turn"
        assert [completion[s:e] for s, e in spans] == [turn.tokens for turn in episode.turns]
        assert all(lp == 0.0 for lp, m in zip(logprobs, mask, strict=True) if m == 0)
        # Between two agent turns: the end of the agent's turn and the customer's reply, as the template renders it.
        for (_, end), (start, _), turn in zip(spans, spans[1:], episode.record["turns"], strict=False):
            between = trainer.processing_class.decode(completion[end:start])
            assert turn["reply"] in between
            assert between.rstrip().endswith("assistant")


def test_logprobs_match_a_rescoring_with_the_model(played):
    # Exactly against one plain forward pass of the whole call; within float noise against TRL's own
    # scoring, whose fused LM head (log-probs computed in chunks) differs by up to ~1e-3.
    trainer, _, out = played
    for p, c, sampled, mask in zip(
        out["prompt_ids"], out["completion_ids"], out["logprobs"], out["env_mask"], strict=True
    ):
        ids = torch.tensor([p + c])
        own = torch.tensor(mask, dtype=torch.bool)
        with torch.no_grad():
            logits = trainer.model(input_ids=ids).logits[0, len(p) - 1 : -1].float()
            trl_logps, _, _ = trainer._get_per_token_logps_and_entropies(
                trainer.model, ids, torch.ones_like(ids), len(c), batch_size=1
            )
        plain = torch.log_softmax(logits, -1).gather(-1, torch.tensor(c)[:, None])[:, 0]
        torch.testing.assert_close(plain[own], torch.tensor(sampled)[own], atol=1e-5, rtol=0)
        torch.testing.assert_close(trl_logps[0][own], torch.tensor(sampled)[own], atol=5e-3, rtol=0)


def test_extra_fields_match_the_gymnasium_env_on_the_same_seeds(played, dataset, tokenizer):
    _, prompts, out = played
    for i, prompt in enumerate(prompts):
        row = dataset[0] if i < GENERATIONS else dataset[1]
        episode = out["episode"][i]
        assert episode.group == i // GENERATIONS
        env = ChatMessages(PrivilegedView(gym.make(env_id_for(DOMAIN), split="train")))
        teacher_opening, info = env.reset(seed=row["seed"], options={"persona_index": row["persona_index"]})
        assert out["teacher_prompt_ids"][i] == chat_ids(tokenizer, teacher_opening, add_generation_prompt=True)
        assert out["prompt_ids"][i] == chat_ids(tokenizer, prompt, add_generation_prompt=True)
        total, rewards, done = 0.0, [], False
        for turn in episode.record["turns"]:
            assert not done
            _, reward, terminated, truncated, info = env.step(turn["action"])
            total += reward
            rewards.append(transition_reward(info["transition"], info["concerns"]))
            assert info["transition"] == turn["transition"]
            done = terminated or truncated
        assert done
        assert out["episode_return"][i] == total
        assert out["outcome"][i] == info["outcome"]
        assert out["turn_rewards"][i] == pytest.approx(rewards)
    assert acceptance_reward(None, out["episode_return"]) == out["episode_return"]
    shaped = shaped_reward(2.0)(None, out["episode_return"], out["turn_rewards"])
    assert shaped == pytest.approx(
        [r + 2.0 * sum(t) for r, t in zip(out["episode_return"], out["turn_rewards"], strict=True)]
    )


def test_a_prompt_from_elsewhere_is_refused_with_a_fix(played):
    trainer, _, _ = played
    stranger = [{"role": "system", "content": "x"}, {"role": "user", "content": "hello"}]
    with pytest.raises(ValueError, match="pass CallRollout the dataset"):
        trainer.rollout_func([stranger], trainer)
    with pytest.raises(ValueError, match="max_new_tokens"):
        CallRollout([], max_new_tokens=0)
    with pytest.raises(ValueError, match="call_dataset"):
        CallRollout(call_dataset(DOMAIN, "train", users=1).remove_columns("seed"))
    with pytest.raises(ValueError, match="scale"):
        shaped_reward(-1.0)
    policy = Policy(trainer.model, trainer.processing_class)
    envs = make_envs(policy, 1, DOMAIN, "train")
    with pytest.raises(ValueError, match="view"):
        play_calls(policy, envs, [CallUser(0, 0)], [0], view="oracle")
    with pytest.raises(ValueError, match="group indices"):
        play_calls(policy, envs, [CallUser(0, 0)], [])
    with pytest.raises(ValueError, match="only 1 envs"):
        play_calls(policy, envs, [CallUser(0, 0)] * 2, [0, 0])


def test_the_subclasses_refuse_what_they_cannot_do(tokenizer, dataset, tmp_path):
    with pytest.raises(ValueError, match="unknown algo"):
        trainer_for(tokenizer, dataset, tmp_path, "ppo")
    with pytest.raises(ValueError, match="shuffled-concerns"):
        trainer_for(tokenizer, dataset, tmp_path, "aopd", aopd=AOPDConfig(teacher_concerns="shuffled"))
    with pytest.raises(TypeError, match="STPRConfig"):
        trainer_for(tokenizer, dataset, tmp_path, "stpr", stpr=AOPDConfig())


def test_stpr_trainer_puts_each_turns_advantage_on_its_tokens(tokenizer, dataset, tmp_path):
    stpr = STPRConfig(lam=1.0)
    trainer = trainer_for(tokenizer, dataset, tmp_path, "stpr", stpr=stpr)
    trainer.model.train()
    inputs = [dict(dataset[0]) for _ in range(GENERATIONS)] + [dict(dataset[1]) for _ in range(GENERATIONS)]
    batch = trainer._generate_and_score_completions(inputs)
    advantages = batch["advantages"]
    assert advantages.shape == batch["completion_ids"].shape
    expected = turn_advantages([inp["episode"] for inp in inputs], stpr)
    for row, inp in enumerate(inputs):
        for (start, end), value in zip(inp["agent_turn_spans"], expected[id(inp["episode"])], strict=True):
            assert torch.allclose(advantages[row, start:end], torch.tensor(value))
    # λ > 0 and real transitions: turns of one call do not all share one advantage.
    assert any(len(set(expected[id(inp["episode"])])) > 1 for inp in inputs)


def test_aopd_loss_is_ptods_distillation_loss_on_the_teacher_view(tokenizer, dataset, tmp_path):
    trainer = trainer_for(tokenizer, dataset, tmp_path, "aopd", aopd=AOPDConfig(teacher="frozen"))
    trainer.model.train()
    inputs = [dict(dataset[2]) for _ in range(GENERATIONS)]
    batch = trainer._generate_and_score_completions(inputs)
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop
    loss = trainer._compute_loss(trainer.model, batch)
    with torch.no_grad():
        student = trainer._completion_logits(trainer.model, batch["prompt_ids"], batch["prompt_mask"], batch)
        teacher = trainer._completion_logits(
            trainer.teacher.model, batch["teacher_prompt_ids"], batch["teacher_prompt_mask"], batch
        )
    mask = (batch["completion_mask"] * batch["tool_mask"]).float()
    expected = distillation_loss(student, teacher, mask)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-4)
    assert loss.item() > 0  # the concern block changes the teacher's distribution
    loss.backward()
    assert all(p.grad is None for p in trainer.teacher.model.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainer.model.parameters())


@pytest.mark.parametrize(
    "algo",
    [
        # About 10 s each on 2 cores; the rollout, advantages and losses are checked above in the default suite.
        pytest.param("grpo", marks=pytest.mark.slow),
        pytest.param("stpr", marks=pytest.mark.slow),
        pytest.param("aopd", marks=pytest.mark.slow),
        pytest.param("siavpo", marks=pytest.mark.slow),
    ],
)
def test_one_training_step_runs_and_changes_the_weights(tokenizer, dataset, tmp_path, algo):
    # Shaped: a call that moved the user pays, so a group of failed calls still has a signal.
    trainer = trainer_for(tokenizer, dataset, tmp_path, algo, reward=shaped_reward(), aopd=AOPDConfig(teacher="ema"))
    assert isinstance(trainer, TRAINERS[algo])
    before = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.train()
    changed = any(not torch.equal(b, p) for b, p in zip(before, trainer.model.parameters(), strict=True))
    assert changed
    if algo in ("aopd", "siavpo"):
        assert not all(torch.equal(b, t) for b, t in zip(before, trainer.teacher.model.parameters(), strict=True)), (
            "the EMA teacher follows the student"
        )


def test_evaluate_calls_reports_the_projects_figures(tokenizer):
    torch.manual_seed(0)
    model = build_model(SMALL, tokenizer, seed=0)
    figures = evaluate_calls(model, tokenizer, domain=DOMAIN, episodes=2, samples=2, max_new_tokens=8)
    assert figures["episodes"] == 4
    assert 0.0 <= figures["success_rate"] <= figures["pass@2"] <= 1.0
    assert model.training, "evaluation leaves the model in the mode it found it in"
    state = torch.random.get_rng_state()
    again = evaluate_calls(model, tokenizer, domain=DOMAIN, episodes=2, samples=2, max_new_tokens=8)
    assert again == figures, "same weights, same seed: same figures"
    assert torch.equal(torch.random.get_rng_state(), state), "the caller's RNG is left alone"
    teacher = evaluate_calls(model, tokenizer, domain=DOMAIN, episodes=1, view="teacher", max_new_tokens=8)
    assert teacher["view"] == "teacher" and teacher["episodes"] == 1


def test_logged_contexts_feed_trls_self_distillation_trainer(tokenizer, tmp_path):
    from trl.experimental.sdft import SDFTConfig, SDFTTrainer

    from ptod_env.agents import make_agent
    from ptod_env.evaluation import run_episode

    env = gym.make(env_id_for(DOMAIN), split="train")
    records = [run_episode(env, make_agent("proactive", env.unwrapped.pack), seed=s, domain=DOMAIN) for s in (0, 1)]
    rows = logged_contexts(records)
    assert len(rows) == sum(len(r["turns"]) for r in records)
    first = records[0]["turns"][0]
    assert rows[0]["prompt"][-1] == {"role": "user", "content": first["observation"].rsplit("User: ", 1)[1]}
    assert rows[0]["privileged_context"].startswith("### Hidden concerns (privileged)")
    assert all(c["description"] in rows[0]["privileged_context"] for c in records[0]["concerns"])
    args = SDFTConfig(
        output_dir=str(tmp_path),
        max_steps=1,
        per_device_train_batch_size=2,
        num_generations=2,
        max_completion_length=8,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
    )
    # SDFT builds its frozen teacher from the model's path, so the model must come from a directory.
    build_model(SMALL, tokenizer, seed=0).save_pretrained(tmp_path / "model")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    before = [p.detach().clone() for p in model.parameters()]
    SDFTTrainer(model=model, args=args, train_dataset=rows, processing_class=tokenizer).train()
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))
