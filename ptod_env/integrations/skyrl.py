"""ProactiveSales as a SkyRL-Gym text environment (``pip install -e ".[skyrl]"``).

Importing this module registers one SkyRL id per shipped scenario pack, ``ptod_<domain>``
(``ptod_merchant_recruitment``, ``ptod_courier_recruitment``, ...), with
:class:`ProactiveSalesTextEnv` as the entry point; :func:`register_skyrl_scenario` adds your own
pack. SkyRL's generator builds an env per prompt with ``skyrl_gym.make(env_class,
env_config=..., extras=row)``, calls :meth:`~ProactiveSalesTextEnv.init` with the row's prompt,
then alternates the model's reply and :meth:`~ProactiveSalesTextEnv.step`.

What the model sees is the Gymnasium env's observation in chat form
(:class:`wrappers.ChatMessages`): a system message (instructions and the call brief), the
user's first words, then one ``user`` message per turn with the user's reply; SkyRL appends the
model's own lines as ``assistant`` messages. The privileged truth (concerns, state, transition,
outcome) goes to ``metadata`` only, which SkyRL does not show to the model.

Rewards: the env's reward (1.0 on the turn the user accepts) by default; with
``turn_rewards: true`` each turn also gets the state-transition shaping term of
:class:`wrappers.StateTransitionReward`, which SkyRL puts on that turn's last token.

The users a dataset row plays are named in its ``extra_info`` (``seed``, ``persona_index``), so
the same row replays the same user; :func:`skyrl_dataset` writes such rows.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
from omegaconf import DictConfig, OmegaConf
from skyrl_gym.envs.base_text_env import BaseTextEnv, BaseTextEnvStepOutput, ConversationType
from skyrl_gym.envs.registration import register, registry

from ptod_env import MAX_TURNS
from ptod_env.env import EpisodeOverError
from ptod_env.evaluation import episode_options
from ptod_env.persona import SPLITS
from ptod_env.scenario import shipped_scenarios
from ptod_env.shaping import PotentialWeights
from wrappers import ChatMessages, StateTransitionReward
from wrappers.views import DEFAULT_SYSTEM_PROMPT

ID_PREFIX = "ptod_"
ENV_CONFIG_KEYS = frozenset({"env_kwargs", "turn_rewards", "shaping"})
SHAPING_KEYS = frozenset({"weights", "scale", "gamma", "terminal_zero"})
USER_KEYS = frozenset({"seed", "persona_index", "split"})


def skyrl_env_id(domain: str) -> str:
    """The SkyRL id of a shipped pack (``ptod_merchant_recruitment`` for ``merchant_recruitment``)."""
    return f"{ID_PREFIX}{domain}"


class ProactiveSalesTextEnv(BaseTextEnv):
    """A ProactiveSales call as a SkyRL ``BaseTextEnv``.

    Args:
        scenario: a shipped domain name or a pack file path (set by the registered id).
        env_config: SkyRL's ``environment.skyrl_gym.<id>`` config (a dict or OmegaConf node):
            ``env_kwargs`` (passed to ``gym.make``: ``split``, ``understanding``, ``speech``...),
            ``turn_rewards`` (bool, default false: add the state-transition shaping per turn),
            ``shaping`` (``scale``, ``gamma``, ``terminal_zero``, ``weights`` of
            :class:`wrappers.StateTransitionReward`).
        extras: the dataset row's other columns. ``extra_info.seed``, ``extra_info.split`` and
            ``extra_info.persona_index`` name the user (``seed`` alone: a user drawn from the
            split with that seed); ``max_turns`` (set by SkyRL's generator from
            ``generator.max_turns``; default 14) is the turn cap.
    """

    def __init__(
        self, scenario: str, env_config: Mapping[str, Any] | None = None, extras: Mapping[str, Any] | None = None
    ):
        super().__init__()
        config = _plain(env_config or {})
        extras = _plain(extras or {})
        unknown = set(config) - ENV_CONFIG_KEYS
        if unknown:
            raise ValueError(f"unknown env_config keys {sorted(unknown)}; supported: {sorted(ENV_CONFIG_KEYS)}")
        self.max_turns = _positive_int(extras.get("max_turns", MAX_TURNS), "extras['max_turns']")
        user = {**{k: extras[k] for k in USER_KEYS if k in extras}, **dict(extras.get("extra_info") or {})}
        self.seed = user.get("seed")
        self.options = {"persona_index": user["persona_index"]} if "persona_index" in user else None
        env_kwargs = dict(config.get("env_kwargs") or {})
        if "split" in user:  # the row's users come from its own split
            env_kwargs["split"] = user["split"]
        source = "domain" if scenario in shipped_scenarios() else "scenario"
        env = gym.make(
            "ptod_env:ProactiveSales-v0", max_episode_steps=self.max_turns, **{source: scenario}, **env_kwargs
        )
        if config.get("turn_rewards", False):
            env = StateTransitionReward(env, **_shaping_kwargs(config.get("shaping") or {}))
        self.env = env
        self.system_prompt = DEFAULT_SYSTEM_PROMPT
        self.chat: ChatMessages | None = None
        self.info: dict[str, Any] = {}

    def init(self, prompt: ConversationType) -> tuple[ConversationType, dict[str, Any]]:
        """Start the call. A ``system`` message in ``prompt`` replaces the default instructions;
        the returned conversation is the system message (instructions and call brief) and the
        user's first words. The second value is the privileged ``metadata`` of the start."""
        if prompt and prompt[0].get("role") == "system":
            self.system_prompt = prompt[0]["content"]
        self.chat = ChatMessages(self.env, system_prompt=self.system_prompt)
        messages, info = self.chat.reset(seed=self.seed, options=self.options)
        self.turns = 0
        self.info = info
        return [dict(m) for m in messages], copy.deepcopy(info)

    def step(self, action: str) -> BaseTextEnvStepOutput:
        """Say ``action`` (the model's whole reply) and get the user's reply as one ``user``
        message, the turn's reward, ``done`` and the privileged ``metadata`` (the env's ``info``)."""
        if self.chat is None:
            raise EpisodeOverError("call init(prompt) before step()")
        messages, reward, terminated, truncated, info = self.chat.step(action)
        self.turns += 1
        self.info = info
        done = bool(terminated or truncated)
        return BaseTextEnvStepOutput(
            observations=[] if done else [dict(messages[-1])],
            reward=float(reward),
            done=done,
            metadata=copy.deepcopy(info),
            postprocessed_action=None,
        )

    def get_metrics(self) -> dict[str, Any]:
        """Per-episode figures SkyRL averages over a batch: success, turns, concerns resolved."""
        concerns = self.info.get("concerns", [])
        resolved = sum(c["status"] == "resolved" for c in concerns)
        return {
            "success": float(self.info.get("outcome") == "accepted"),
            "turns": self.turns,
            "resolution_rate": resolved / len(concerns) if concerns else 0.0,
        }

    def close(self) -> None:
        self.env.close()


def register_skyrl_scenario(env_id: str, scenario: str) -> None:
    """Register ``env_id`` in SkyRL-Gym for a scenario pack (a shipped name or a file path).
    Registering an id again is a no-op, so importing this module twice is harmless."""
    if env_id not in registry:
        register(id=env_id, entry_point=ProactiveSalesTextEnv, kwargs={"scenario": scenario})


def skyrl_dataset(
    domain: str = "merchant_recruitment",
    split: str = "train",
    users: int = 64,
    seed: int = 0,
    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
) -> list[dict[str, Any]]:
    """Dataset rows for SkyRL (``pandas.DataFrame(rows).to_parquet(...)``): row ``i`` plays env
    seed ``seed + i``; on the test split it also names the held-out user ``i``, as ``ptod rollout``
    does. Columns: ``data_source``, ``prompt`` (the system message), ``env_class``, ``extra_info``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if domain not in shipped_scenarios():
        raise ValueError(f"unknown domain {domain!r}; shipped: {shipped_scenarios()}")
    rows = []
    for i in range(_positive_int(users, "users")):
        user = {"seed": seed + i, "split": split, **(episode_options(split, i) or {})}
        rows.append(
            {
                "data_source": f"ptod/{domain}/{split}",
                "prompt": [{"role": "system", "content": system_prompt}],
                "env_class": skyrl_env_id(domain),
                "extra_info": user,
            }
        )
    return rows


def _plain(config: Any) -> dict[str, Any]:
    """A plain dict of a mapping or an OmegaConf node (SkyRL passes ``DictConfig``)."""
    if isinstance(config, DictConfig):
        return OmegaConf.to_container(config, resolve=True)
    if not isinstance(config, Mapping):
        raise TypeError(f"expected a mapping, got {type(config).__name__}: {config!r:.80}")
    return dict(config)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _shaping_kwargs(shaping: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(shaping) - SHAPING_KEYS
    if unknown:
        raise ValueError(f"unknown shaping keys {sorted(unknown)}; supported: {sorted(SHAPING_KEYS)}")
    kwargs = dict(shaping)
    if "weights" in kwargs:
        kwargs["weights"] = PotentialWeights(**kwargs["weights"])
    return kwargs


for _domain in shipped_scenarios():
    register_skyrl_scenario(skyrl_env_id(_domain), _domain)
