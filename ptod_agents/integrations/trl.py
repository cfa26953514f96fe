"""TRL: whole ProactiveSales calls inside ``GRPOTrainer``, and STPR / AOPD as ``GRPOTrainer`` subclasses.

A call is one token sequence in the chat format of :class:`wrappers.ChatMessages` (a system message
with the instructions and the call brief, then the user's and the agent's lines as ``user`` and
``assistant`` messages)::

    prompt_ids      = chat template of [system, user's first words] + generation prompt
    completion_ids  = agent turn 1 | customer reply 1 | agent turn 2 | … | agent turn K
    env_mask        =  1 1 … 1     |  0 0 …  0        |  1 1 … 1     | … |  1 1 … 1

An agent turn is exactly the tokens the model sampled, its end-of-turn token included; everything
between two agent turns (the template's glue and the customer's reply) is rendered by the model's
own chat template and masked 0. The completion ends with the last agent turn: the customer's
final words are never trained on and never needed. Built for TRL 1.16 (``rollout_func`` and
token-level advantages are experimental there; ``pip install -e ".[trl]"`` pins the minor version).

* :func:`call_dataset` — one row per user: ``prompt`` (the opening chat messages), ``persona_index``,
  ``seed``. TRL hands a ``rollout_func`` the prompts only, so :class:`CallRollout` finds each
  prompt's user by its text and checks that the env, reset with that user, opens with it.
* :class:`CallRollout` — the ``rollout_func``: plays the calls in lockstep (one batched generation
  per turn) and returns, besides the required keys, ``env_mask`` and the extra fields
  ``episode_return``, ``outcome``, ``turn_rewards`` (Φ(s_k) − Φ(s_{k−1}) per turn),
  ``teacher_prompt_ids``, ``agent_turn_spans`` and ``episode`` (a :class:`ptod_agents.rollout.Episode`).
* :func:`acceptance_reward`, :func:`shaped_reward` — reward functions over those fields.
* :class:`STPRTrainer` — per-token advantages from :func:`ptod_agents.scoring.turn_advantages`.
* :class:`AOPDTrainer` — adds D(p_S ‖ sg p_T) on the agent tokens, the teacher scoring the same
  completion behind ``teacher_prompt_ids``; :class:`SIAVPOTrainer` is both.
* :func:`logged_contexts` — rows for ``trl.experimental.sdft.SDFTTrainer`` (AOPD on logged
  contexts, single-turn): each logged agent turn's chat messages and the concern block.
* :func:`evaluate_calls` — the project's figures (:func:`ptod_env.evaluation.episode_metrics`,
  pass@k) for a model that speaks this chat format, on the same users ``ptod eval`` plays.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import torch
from transformers import TrainerCallback

from ptod_agents.config import AOPDConfig, STPRConfig
from ptod_agents.evaluate import pass_at
from ptod_agents.losses import distillation_loss
from ptod_agents.onpolicy import Teacher
from ptod_agents.policy import Policy
from ptod_agents.rollout import Episode, make_envs, take_turn
from ptod_agents.scoring import turn_advantages
from ptod_env.evaluation import env_id_for, episode_metrics
from ptod_env.persona import split_user
from ptod_env.records import EpisodeBuilder
from ptod_env.shaping import PotentialWeights, transition_reward
from ptod_env.views import render_concern_block, teacher_view
from wrappers import ChatMessages
from wrappers.views import DEFAULT_SYSTEM_PROMPT

try:
    from trl import GRPOTrainer
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError('ptod_agents.integrations.trl needs TRL: pip install -e ".[trl]"') from error

__all__ = [
    "TRAINERS",
    "AOPDTrainer",
    "Call",
    "CallRollout",
    "CallUser",
    "SIAVPOTrainer",
    "STPRTrainer",
    "acceptance_reward",
    "call_dataset",
    "call_users",
    "chat_ids",
    "evaluate_calls",
    "grpo_config",
    "logged_contexts",
    "make_trainer",
    "play_calls",
    "shaped_reward",
    "turn_rewards_of",
]

Message = dict[str, str]


@dataclass(frozen=True)
class CallUser:
    """Who a call is with: the persona index of the split and the env seed."""

    persona_index: int
    seed: int


@dataclass
class Call:
    """One whole call as one token sequence (see the module docstring).

    Attributes:
        prompt_ids: the opening chat messages with the generation prompt (student or teacher view).
        teacher_prompt_ids: the same messages in the teacher view (concern block in the system message).
        completion_ids: agent turns and the customer replies between them.
        logprobs: the policy's log-probability of each completion token when sampled (temperature 1);
            0.0 on customer tokens.
        env_mask: 1 on the model's own tokens, 0 on the customer's and the template's.
        agent_turn_spans: ``[start, end)`` of each agent turn in ``completion_ids``.
        episode: the ptod episode (turns with transitions, and the :mod:`ptod_env.records` record).
    """

    prompt_ids: list[int]
    teacher_prompt_ids: list[int]
    completion_ids: list[int]
    logprobs: list[float]
    env_mask: list[int]
    agent_turn_spans: list[tuple[int, int]]
    episode: Episode


def chat_ids(tokenizer, messages: Sequence[Message], add_generation_prompt: bool) -> list[int]:
    """Token ids of ``messages`` rendered by the tokenizer's chat template."""
    text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=add_generation_prompt)
    return tokenizer.encode(text, add_special_tokens=False)


def _reply_ids(policy: Policy, messages: Sequence[Message]) -> list[int]:
    """The tokens after the agent's end-of-turn token up to the next generation prompt: the
    template's glue and the customer's last message (``messages`` ends with it)."""
    before = chat_ids(policy.tokenizer, messages[:-1], add_generation_prompt=False)
    full = chat_ids(policy.tokenizer, messages, add_generation_prompt=True)
    ends = [i for i, token in enumerate(before) if token in policy.end_ids]
    if not ends:
        raise ValueError("the chat template renders no end-of-turn token after an assistant message")
    before = before[: ends[-1] + 1]
    if full[: len(before)] != before:
        raise ValueError(
            "the chat template is not prefix-stable (rendering one more message changes earlier tokens), "
            "so a call cannot be one token sequence; use a template that appends messages"
        )
    return full[len(before) :]


def play_calls(
    policy: Policy,
    envs: Sequence[gym.Env],
    users: Sequence[CallUser],
    groups: Sequence[int],
    *,
    view: str = "student",
    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
    max_new_tokens: int = 40,
    temperature: float = 1.0,
    agent_name: str = "policy",
) -> list[Call]:
    """Play one whole call per ``users`` entry on ``envs`` (one env each), in lockstep: every turn
    the still-running calls' token sequences are sampled as one batch.

    ``view`` ("student" or "teacher") is the prompt the policy acts on; ``groups[i]`` becomes the
    episode's group index (the GRPO group).
    """
    if view not in ("student", "teacher"):
        raise ValueError(f"view must be 'student' or 'teacher', got {view!r}")
    if len(users) > len(envs):
        raise ValueError(f"{len(users)} users but only {len(envs)} envs")
    if len(groups) != len(users):
        raise ValueError(f"{len(users)} users but {len(groups)} group indices")
    chat = ChatMessages(envs[0], system_prompt=system_prompt)
    calls, observations, builders = [], [], []
    for env, user, group in zip(envs, users, groups, strict=False):
        observation, info = env.reset(seed=user.seed, options={"persona_index": user.persona_index})
        student = chat_ids(policy.tokenizer, chat.messages(observation), add_generation_prompt=True)
        teacher = chat_ids(
            policy.tokenizer, chat.messages(teacher_view(observation, info["concerns"])), add_generation_prompt=True
        )
        episode = Episode(group, info["concerns"], info["concerns"], record={})
        calls.append(Call(student if view == "student" else teacher, teacher, [], [], [], [], episode))
        observations.append(observation)
        builders.append(
            EpisodeBuilder(observation, info, domain=env.unwrapped.pack.name, seed=user.seed, agent=agent_name)
        )
    active = list(range(len(users)))
    while active:
        contexts = [calls[i].prompt_ids + calls[i].completion_ids for i in active]
        samples = policy.sample(contexts, max_new_tokens, temperature)
        still = []
        for i, context, sample in zip(active, contexts, samples, strict=True):
            call = calls[i]
            start = len(call.completion_ids)
            call.completion_ids += sample.tokens
            call.logprobs += sample.logprobs
            call.env_mask += [1] * len(sample.tokens)
            call.agent_turn_spans.append((start, len(call.completion_ids)))
            observation, _, done = take_turn(policy, envs[i], sample, context, call.episode, builders[i])
            observations[i] = observation
            if done:
                continue
            # A turn cut at max_new_tokens never said its end-of-turn token; the template closes it.
            closing = [] if sample.tokens and sample.tokens[-1] in policy.end_ids else [policy.end_id]
            between = closing + _reply_ids(policy, chat.messages(observation))
            call.completion_ids += between
            call.logprobs += [0.0] * len(between)
            call.env_mask += [0] * len(between)
            still.append(i)
        active = still
    for call, builder in zip(calls, builders, strict=True):
        call.episode.record = builder.record
    return calls


def turn_rewards_of(episode: Episode, potential: PotentialWeights | None = None) -> list[float]:
    """r_k = Φ(s_k) − Φ(s_{k−1}) of every turn (:func:`ptod_env.shaping.transition_reward`; the
    default weights when ``potential`` is None)."""
    weights = potential or PotentialWeights()
    return [transition_reward(turn.transition, episode.concerns, weights) for turn in episode.turns]


def _prompt_key(prompt: Sequence[Message]) -> str:
    return json.dumps([[m["role"], m["content"]] for m in prompt])


def call_users(split: str, users: int, seed: int = 0) -> list[CallUser]:
    """``users`` users of ``split`` in order, user ``i`` with env seed ``seed + i``: on the test
    split exactly the users ``ptod eval`` and :func:`ptod_env.evaluation.episode_options` play."""
    if users < 1:
        raise ValueError(f"users must be >= 1, got {users}")
    return [CallUser(split_user(split, i), seed + i) for i in range(users)]


def call_dataset(
    domain: str = "merchant_recruitment",
    split: str = "train",
    users: int = 64,
    seed: int = 0,
    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
):
    """A ``datasets.Dataset`` with one row per user (see :func:`call_users`): ``prompt`` (the
    call's opening chat messages, what the model first reads), ``persona_index`` and ``seed``.

    Raises:
        ValueError: two users open with the same prompt (a ``rollout_func`` could not tell them apart).
    """
    from datasets import Dataset

    rows, seen = [], {}
    env = gym.make(env_id_for(domain), split=split)
    chat = ChatMessages(env, system_prompt=system_prompt)
    for user in call_users(split, users, seed):
        prompt, _ = chat.reset(seed=user.seed, options={"persona_index": user.persona_index})
        key = _prompt_key(prompt)
        if key in seen:
            raise ValueError(f"users {seen[key]} and {user} open with the same prompt; use fewer users or another seed")
        seen[key] = user
        rows.append({"prompt": list(prompt), "persona_index": user.persona_index, "seed": user.seed})
    env.close()
    return Dataset.from_list(rows)


class CallRollout:
    """A TRL ``rollout_func`` that plays whole calls with the trainer's model.

    ``GRPOTrainer`` calls ``rollout(prompts, trainer)`` with each dataset prompt repeated once per
    generation; each prompt's user is looked up in ``dataset`` (built by :func:`call_dataset`),
    and calls of consecutive runs of ``num_generations`` prompts form one GRPO group.

    Args:
        dataset: the rows the trainer draws from (``prompt``, ``persona_index``, ``seed``); a train
            and an eval dataset may be passed as a list.
        domain: the scenario pack; must be the one the dataset was built with.
        split: the split the dataset was built from.
        system_prompt: must match the dataset's.
        max_new_tokens: longest agent turn, in tokens.
        potential: the weights of Φ for ``turn_rewards`` (default ``PotentialWeights()``, as STPR's).
        env_kwargs: extra ``gym.make`` kwargs (backends, max turns, ...).

    Example (as in ``examples/trl_grpo.py``)::

        dataset = call_dataset("merchant_recruitment", "train", users=64)
        trainer = GRPOTrainer(model, reward_funcs=[acceptance_reward], train_dataset=dataset,
                              rollout_func=CallRollout(dataset), args=GRPOConfig(...))
    """

    def __init__(
        self,
        dataset,
        *,
        domain: str = "merchant_recruitment",
        split: str = "train",
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
        max_new_tokens: int = 40,
        potential: PotentialWeights | None = None,
        env_kwargs: dict[str, Any] | None = None,
    ):
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}")
        self.users: dict[str, CallUser] = {}
        for part in dataset if isinstance(dataset, list | tuple) else [dataset]:
            missing = {"prompt", "persona_index", "seed"} - set(part.column_names)
            if missing:
                raise ValueError(f"the dataset lacks columns {sorted(missing)}; build it with call_dataset()")
            for row in part:
                self.users[_prompt_key(row["prompt"])] = CallUser(row["persona_index"], row["seed"])
        self.domain = domain
        self.split = split
        self.system_prompt = system_prompt
        self.max_new_tokens = max_new_tokens
        self.potential = potential
        self.env_kwargs = env_kwargs or {}
        self.envs: list[gym.Env] = []
        self.seconds = 0.0
        """Wall time spent playing calls so far."""

    def user_of(self, prompt: Sequence[Message]) -> CallUser:
        """The user whose call opens with ``prompt``."""
        try:
            return self.users[_prompt_key(prompt)]
        except KeyError:
            raise ValueError(
                "a prompt is not one of the dataset's calls; pass CallRollout the dataset(s) the trainer uses"
            ) from None

    def __call__(self, prompts: list[list[Message]], trainer) -> dict[str, list]:
        tick = time.perf_counter()
        model = trainer.accelerator.unwrap_model(trainer.model)
        was_training = model.training
        group_size = trainer.num_generations if was_training else trainer.num_generations_eval
        users = [self.user_of(p) for p in prompts]
        while len(self.envs) < len(users):
            self.envs.append(gym.make(env_id_for(self.domain), split=self.split, **self.env_kwargs))
        calls = play_calls(
            Policy(model, trainer.processing_class),
            self.envs,
            users,
            [i // group_size for i in range(len(users))],
            system_prompt=self.system_prompt,
            max_new_tokens=self.max_new_tokens,
            temperature=trainer.temperature,
            agent_name="trl",
        )
        model.train(was_training)  # sampling switched to eval mode; the loss must see the trainer's mode
        for call, prompt in zip(calls, prompts, strict=True):
            if call.prompt_ids != chat_ids(trainer.processing_class, prompt, add_generation_prompt=True):
                raise ValueError(
                    "the env no longer opens this user's call with the dataset's prompt "
                    "(another domain, split, system prompt or pack version?); rebuild the dataset"
                )
        self.seconds += time.perf_counter() - tick
        return {
            "prompt_ids": [c.prompt_ids for c in calls],
            "completion_ids": [c.completion_ids for c in calls],
            "logprobs": [c.logprobs for c in calls],
            "env_mask": [c.env_mask for c in calls],
            "episode_return": [c.episode.reward for c in calls],
            "outcome": [c.episode.record["outcome"] for c in calls],
            "turn_rewards": [turn_rewards_of(c.episode, self.potential) for c in calls],
            "teacher_prompt_ids": [c.teacher_prompt_ids for c in calls],
            "agent_turn_spans": [c.agent_turn_spans for c in calls],
            "episode": [c.episode for c in calls],
        }


def acceptance_reward(completions: list, episode_return: list[float], **kwargs) -> list[float]:
    """The env's own reward of each call (``accept_reward`` on acceptance, else 0)."""
    return [float(r) for r in episode_return]


def shaped_reward(scale: float = 1.0) -> Callable[..., list[float]]:
    """A reward function: the call's return plus ``scale`` · Σ_k r_k, where the transition rewards
    telescope to Φ(final state) − Φ(first state): how far the call moved the user, paid also for
    calls that did not close."""
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0.0 <= scale < float("inf"):
        raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")

    def shaped(completions: list, episode_return: list[float], turn_rewards: list[list[float]], **kwargs):
        return [float(r) + scale * sum(t) for r, t in zip(episode_return, turn_rewards, strict=True)]

    shaped.__name__ = "shaped_reward"
    return shaped


def _single_process(trainer: GRPOTrainer, name: str) -> None:
    if trainer.accelerator.num_processes > 1:
        raise NotImplementedError(
            f"{name} computes per-turn data within one process; TRL spreads a GRPO group over processes. "
            "Run it on one process (CPU or one GPU)."
        )


class STPRTrainer(GRPOTrainer):
    """GRPO with STPR's turn-level credit: every agent token gets its turn's advantage from
    :func:`ptod_agents.scoring.turn_advantages` (the outcome advantage from the env return,
    refined by the state transitions), replacing TRL's per-call advantage. Needs
    :class:`CallRollout` as ``rollout_func``; the reward functions are still computed and logged.

    Args:
        stpr: the STPR settings (``variant``, ``lam``, ``potential``, ``advantage_eps``; the other
            fields of :class:`ptod_agents.config.STPRConfig` are unused here).
    """

    def __init__(self, *args, stpr: STPRConfig | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.stpr = stpr or STPRConfig()
        if not isinstance(self.stpr, STPRConfig):
            raise TypeError(f"stpr must be a ptod_agents.config.STPRConfig, got {type(self.stpr).__name__}")
        _single_process(self, type(self).__name__)

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        if "episode" not in inputs[0]:
            raise ValueError("STPRTrainer needs rollout_func=CallRollout(...) (no 'episode' field in the batch)")
        episodes = [inp["episode"] for inp in inputs]
        advantages = turn_advantages(episodes, self.stpr)
        per_token = torch.zeros(output["completion_ids"].shape, dtype=torch.float32)
        for row, (inp, episode) in enumerate(zip(inputs, episodes, strict=True)):
            for (start, end), advantage in zip(inp["agent_turn_spans"], advantages[id(episode)], strict=True):
                per_token[row, start:end] = advantage
        output["advantages"] = per_token.to(output["completion_ids"].device)
        return output


class _TeacherAfterStep(TrainerCallback):
    """Moves the EMA teacher after every optimizer step."""

    def __init__(self, trainer: AOPDTrainer):
        self.trainer = trainer

    def on_step_end(self, args, state, control, **kwargs):
        self.trainer.teacher.after_update(self.trainer.accelerator.unwrap_model(self.trainer.model))


class AOPDTrainer(GRPOTrainer):
    """AOPD in TRL: the student plays the call on-policy (:class:`CallRollout`); the teacher (the
    live network, a frozen copy or an EMA) scores the *same* completion behind the teacher-view
    prompt, without gradient; the loss is ``distill_weight`` · D(p_S ‖ sg p_T) over the agent
    tokens (env_mask 1), with :func:`ptod_agents.losses.distillation_loss`. The customer's tokens
    are context for both and never trained on.

    Args:
        aopd: the AOPD settings (``divergence``, ``jsd_alpha``, ``teacher``, ``ema_decay``,
            ``distill_weight``; ``teacher_concerns`` must be ``true``).
        policy_gradient: also add GRPO's (or, in :class:`SIAVPOTrainer`, STPR's) policy-gradient
            loss; False is AOPD alone.
    """

    def __init__(self, *args, aopd: AOPDConfig | None = None, policy_gradient: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.aopd = aopd or AOPDConfig()
        if not isinstance(self.aopd, AOPDConfig):
            raise TypeError(f"aopd must be a ptod_agents.config.AOPDConfig, got {type(self.aopd).__name__}")
        if self.aopd.teacher_concerns != "true":
            raise ValueError("the shuffled-concerns ablation is not wired into TRL; use `ptod train` for it")
        _single_process(self, type(self).__name__)
        self.policy_gradient = policy_gradient
        self.teacher = Teacher(self.accelerator.unwrap_model(self.model), self.aopd.teacher, self.aopd.ema_decay)
        if self.aopd.teacher == "ema":
            self.add_callback(_TeacherAfterStep(self))

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        if "teacher_prompt_ids" not in inputs[0]:
            raise ValueError("AOPDTrainer needs rollout_func=CallRollout(...) (no 'teacher_prompt_ids' in the batch)")
        prompts = [inp["teacher_prompt_ids"] for inp in inputs]
        width = max(len(p) for p in prompts)
        pad = self._tokenizer.pad_token_id
        device = output["completion_ids"].device
        output["teacher_prompt_ids"] = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=device)
        output["teacher_prompt_mask"] = torch.tensor(
            [[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device
        )
        return output

    def _completion_logits(self, model, prompt_ids, prompt_mask, inputs) -> torch.Tensor:
        completion_ids = inputs["completion_ids"]
        width = completion_ids.shape[1]
        out = model(
            input_ids=torch.cat([prompt_ids, completion_ids], dim=1),
            attention_mask=torch.cat([prompt_mask, inputs["completion_mask"]], dim=1),
            use_cache=False,
            logits_to_keep=width + 1,
        )
        return out.logits[:, :width].float()

    def _compute_loss(self, model, inputs):
        student = self._completion_logits(model, inputs["prompt_ids"], inputs["prompt_mask"], inputs)
        with torch.no_grad():
            teacher = self._completion_logits(
                self.teacher.model, inputs["teacher_prompt_ids"], inputs["teacher_prompt_mask"], inputs
            )
        mask = inputs["completion_mask"] * inputs.get("tool_mask", 1)
        distill = distillation_loss(
            student, teacher, mask.float(), self.aopd.divergence, self.aopd.jsd_alpha, inputs["completion_ids"]
        )
        mode = "train" if self.model.training else "eval"
        self._metrics[mode]["losses/distillation"].append(distill.item())
        normalizer = self.current_gradient_accumulation_steps if mode == "train" else 1.0
        loss = self.aopd.distill_weight * distill / normalizer
        if self.policy_gradient:
            loss = loss + super()._compute_loss(model, inputs)
        return loss


class SIAVPOTrainer(AOPDTrainer, STPRTrainer):
    """SI-AVPO in TRL: STPR's token-level policy gradient plus ``distill_weight`` × AOPD."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, policy_gradient=True, **kwargs)


TRAINERS: dict[str, type[GRPOTrainer]] = {
    "grpo": GRPOTrainer,
    "stpr": STPRTrainer,
    "aopd": AOPDTrainer,
    "siavpo": SIAVPOTrainer,
}
"""Algorithm name (as in ``ptod train --algo``) → TRL trainer class."""


def grpo_config(output_dir: str, *, steps: int, users: int, calls_per_user: int, lr: float = 3e-4, seed: int = 0):
    """A ``trl.GRPOConfig`` on ``ptod train``'s budget: each optimizer step plays ``users`` ×
    ``calls_per_user`` calls (one GRPO group per user) and takes one step; constant ``lr`` (as
    ptod's AdamW); CPU; no checkpoints, no reports, no activation checkpointing (recomputing
    activations only costs time at this model size)."""
    from trl import GRPOConfig

    return GRPOConfig(
        output_dir=output_dir,
        max_steps=steps,
        per_device_train_batch_size=users * calls_per_user,
        num_generations=calls_per_user,
        learning_rate=lr,
        lr_scheduler_type="constant",
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
        seed=seed,
        disable_tqdm=True,
        gradient_checkpointing=False,
    )


def make_trainer(
    algo: str,
    model,
    tokenizer,
    args,
    dataset,
    *,
    reward_funcs: Sequence[Callable[..., list[float]]] = (acceptance_reward,),
    stpr: STPRConfig | None = None,
    aopd: AOPDConfig | None = None,
    **rollout_kwargs: Any,
) -> GRPOTrainer:
    """The TRL trainer of ``algo`` (a key of :data:`TRAINERS`) over ``CallRollout(dataset, **rollout_kwargs)``;
    ``stpr`` / ``aopd`` go to the subclasses that take them."""
    if algo not in TRAINERS:
        raise ValueError(f"unknown algo {algo!r}; choose from {sorted(TRAINERS)}")
    extra: dict[str, Any] = {}
    if algo in ("stpr", "siavpo"):
        extra["stpr"] = stpr
    if algo in ("aopd", "siavpo"):
        extra["aopd"] = aopd
    return TRAINERS[algo](
        model=model,
        processing_class=tokenizer,
        reward_funcs=list(reward_funcs),
        args=args,
        train_dataset=dataset,
        rollout_func=CallRollout(dataset, **rollout_kwargs),
        **extra,
    )


def evaluate_calls(
    model,
    tokenizer,
    *,
    domain: str = "merchant_recruitment",
    split: str = "test",
    episodes: int = 48,
    samples: int = 1,
    view: str = "student",
    seed: int = 0,
    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
    max_new_tokens: int = 40,
    temperature: float = 1.0,
    batch_size: int = 48,
    env_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Play ``episodes`` users × ``samples`` attempts in the chat format the TRL rollout trains on,
    and return :func:`ptod_env.evaluation.episode_metrics` over all attempts plus pass@k over users.
    User ``i`` is the one ``ptod eval`` plays as user ``i`` (same persona, env seed ``seed + i``).
    Sampling draws from a private generator seeded with ``seed`` (the caller's torch RNG is left as
    it was), so the same weights give the same figures: a before/after difference is the training's."""
    policy = Policy(model, tokenizer)
    was_training = model.training
    starts = [(user, i) for i, user in enumerate(call_users(split, episodes, seed)) for _ in range(samples)]
    envs = make_envs(policy, min(batch_size, len(starts)), domain, split, env_kwargs)
    played: list[Call] = []
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            for first in range(0, len(starts), batch_size):
                chunk = starts[first : first + batch_size]
                played += play_calls(
                    policy,
                    envs,
                    [user for user, _ in chunk],
                    [group for _, group in chunk],
                    view=view,
                    system_prompt=system_prompt,
                    max_new_tokens=max_new_tokens,
                    temperature=temperature,
                )
    finally:
        model.train(was_training)
        for env in envs:
            env.close()
    successes = [0] * episodes
    for call in played:
        successes[call.episode.group] += call.episode.record["outcome"] == "accepted"
    return {
        "domain": domain,
        "split": split,
        "seed": seed,
        "view": view,
        "samples": samples,
        **episode_metrics(c.episode.record for c in played),
        **pass_at(successes, samples),
    }


def logged_contexts(records: Sequence[dict[str, Any]], system_prompt: str = DEFAULT_SYSTEM_PROMPT):
    """A ``datasets.Dataset`` for ``trl.experimental.sdft.SDFTTrainer``: one row per logged agent
    turn of ``records`` (:mod:`ptod_env.records`, e.g. ``ptod rollout --record``), with ``prompt``
    (the chat messages the logged agent answered, ending with the user's line) and
    ``privileged_context`` (the user's concern block, which SDFT's teacher prompt appends).

    SDFT then samples one utterance per context from the student and distils the teacher's view of
    it: AOPD's loss on logged, not on-policy, dialogue states, and the customer never answers."""
    from datasets import Dataset

    formats: dict[str, ChatMessages] = {}
    rows = []
    for record in records:
        if record["domain"] not in formats:
            formats[record["domain"]] = ChatMessages(
                gym.make(env_id_for(record["domain"]), split="train"), system_prompt
            )
        chat = formats[record["domain"]]
        block = render_concern_block(record["concerns"])
        rows += [
            {"prompt": list(chat.messages(t["observation"])), "privileged_context": block} for t in record["turns"]
        ]
    for chat in formats.values():
        chat.close()
    return Dataset.from_list(rows)
