"""The sales call as a two-agent PettingZoo env: a ``salesperson`` and a ``customer``.

The only module of ``ptod_env`` that imports pettingzoo (``pip install ptod[pettingzoo]``).

## Description

The same call as ``ProactiveSales-v0``, with the customer's words as a second agent's move. Turns
alternate: the salesperson speaks, then the customer. When the salesperson speaks, the
simulator's understanding and cognitive state machine decide what the customer does (the user
act: hint, voice, object, accept...), exactly as in the Gymnasium env, and its speech backend
renders the words it would say. Then the customer agent speaks, and *its* words go into the
transcript. So the state machine keeps tracking the conversation whatever the customer says,
and a custom customer (an LLM, a learned model, a script) only verbalizes the decided act.

The default customer is the simulator itself: :class:`SimulatorCustomer` says the words the
speech backend rendered, so a salesperson meets the very conversation it would meet in
``ProactiveSales-v0`` (same seed, same utterances, same observations). Any callable taking the
customer's observation and returning a string can stand in its place (see
``examples/custom_customer.py`` and :func:`play_call`).

## Agents

``salesperson`` and ``customer``, in that order of play; the salesperson's first move answers
the customer picking up the phone.

## Action Space

Both: ``Text(max_length=2000)`` over :data:`ptod_env.views.CHARSET`, the agent's utterance.
Transcript lines are shown sanitised (non-charset characters become ``?``, cut at 600
characters). A non-``str`` action raises ``TypeError``.

## Observation Space

``Dict({"text": Text, "to_speak": Discrete(2)})`` (PettingZoo's tools expect dict observations
of non-array spaces). ``to_speak`` is 1 for the agent whose turn it is. The salesperson's
``text`` is the deployable view, the Gymnasium env's observation: the call brief and the
transcript. The customer's ``text`` is privileged: the same with the block listing its hidden
concerns and their statuses (:func:`ptod_env.views.teacher_view`), and on its turn a last
section naming the decided act and the simulator's words for it.

## Rewards

The salesperson gets ``accept_reward`` (default 1.0) when the customer accepts, 0 otherwise;
the customer's reward is always 0 (the env has no objective for a customer; a learned customer
brings its own, e.g. agreement with the simulator's words).

## Episode End

Both agents terminate after the customer's words that end the call (accept, reject, hang up),
and are truncated after the customer's reply to the ``max_turns``-th salesperson line.

## Hidden State

Every agent's ``info`` holds what the Gymnasium env's ``info`` holds after the last salesperson
move: ``turn``, ``persona``, ``concerns`` (with statuses), ``state``, ``transition``,
``agent_acts``, ``user_act`` and ``outcome`` (``timeout`` on truncation).

## Arguments

``env(domain="merchant_recruitment", max_turns=14, render_mode=None, **env_kwargs)``; the same
for ``raw_env`` and ``parallel_env``. ``env_kwargs`` go to
:class:`ptod_env.env.ProactiveSalesEnv` (``scenario``, ``split``, ``understanding``, ``speech``,
``accept_reward``...). ``reset(seed=..., options={"persona_index": i})`` as in the Gymnasium env; other option keys are
ignored (PettingZoo's ``api_test`` passes some), where the Gymnasium env rejects them.

## Version History

* v0: initial release.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils import wrappers
from pettingzoo.utils.agent_selector import AgentSelector

from ptod_env import MAX_TURNS
from ptod_env.acts import UserAct
from ptod_env.env import MAX_ACTION_CHARS, RESET_OPTIONS, ProactiveSalesEnv, concern_records
from ptod_env.scenario import ScenarioPack
from ptod_env.views import (
    AGENT,
    CHARSET,
    MAX_AGENT_CHARS_SHOWN,
    concern_block_max_chars,
    render_transcript,
    sanitize,
    teacher_view,
)

__all__ = [
    "CUSTOMER",
    "SALESPERSON",
    "Policy",
    "SimulatorCustomer",
    "TurnTakingParallelEnv",
    "env",
    "parallel_env",
    "play_call",
    "raw_env",
    "simulator_words",
]

SALESPERSON = "salesperson"
CUSTOMER = "customer"
CUE_HEADER = "### Your next line (decided by the simulator)"
SIMULATOR_WORDS = "Simulator's words: "
# The brief is a filled template of a few hundred characters; this leaves ample room.
_BRIEF_BOUND = 4096
Policy = Callable[[dict[str, Any]], str]
"""An agent's policy: its observation in, its words out."""


class SimulatorCustomer:
    """The default customer: says the words the simulator's speech backend rendered for the act
    the state machine decided (the last line of the customer's observation)."""

    def __call__(self, observation: dict[str, Any]) -> str:
        return simulator_words(observation["text"])


def simulator_words(customer_text: str) -> str:
    """The simulator's rendering of the decided act, read from the customer's observation text."""
    head, sep, words = customer_text.rpartition(f"\n{SIMULATOR_WORDS}")
    if not sep or CUE_HEADER not in head:
        raise ValueError("the observation has no decided act: it is not the customer's turn")
    return words


def env(**kwargs: Any) -> AECEnv:
    """The AEC env with PettingZoo's standard wrappers (order enforcing)."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


def parallel_env(**kwargs: Any) -> ParallelEnv:
    """The parallel env: one step per utterance; see :class:`TurnTakingParallelEnv`."""
    return TurnTakingParallelEnv(raw_env(**kwargs))


class raw_env(AECEnv):
    """The sales call as an AEC env; the module docstring is its documentation."""

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi", "human"],
        "name": "proactive_sales_v0",
        "render_fps": 1,
    }

    def __init__(
        self,
        domain: str = "merchant_recruitment",
        max_turns: int = MAX_TURNS,
        render_mode: str | None = None,
        **env_kwargs: Any,
    ):
        super().__init__()
        if isinstance(max_turns, bool) or not isinstance(max_turns, int) or max_turns < 1:
            raise ValueError(f"max_turns must be a positive int, got {max_turns!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        # The Gymnasium env chooses the persona, validates reset options and holds the backends;
        # this env plays the turns itself, since the customer's words come from an agent.
        self.simulator = ProactiveSalesEnv(domain=domain, **env_kwargs)
        self.pack: ScenarioPack = self.simulator.pack
        self.max_turns = max_turns
        self.render_mode = render_mode
        self.possible_agents = [SALESPERSON, CUSTOMER]
        self.agents = []
        utterance = spaces.Text(max_length=MAX_ACTION_CHARS, min_length=0, charset=CHARSET)
        conversation = _BRIEF_BOUND + (2 * max_turns + 1) * (MAX_AGENT_CHARS_SHOWN + len(AGENT) + 3)
        private = concern_block_max_chars(self.pack) + len(CUE_HEADER) + 200 + MAX_AGENT_CHARS_SHOWN
        self.observation_spaces = {
            SALESPERSON: _observation_space(conversation),
            CUSTOMER: _observation_space(conversation + private),
        }
        self.action_spaces = {agent: utterance for agent in self.possible_agents}

    # The same space objects every call, as PettingZoo's tools expect.
    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        # PettingZoo's api_test resets with options the env does not know; they are ignored here,
        # while the Gymnasium env rejects them.
        known = {k: v for k, v in (options or {}).items() if k in RESET_OPTIONS}
        _, info = self.simulator.reset(seed=seed, options=known)
        self.np_random = self.simulator.np_random
        self._decided: tuple[UserAct, str] | None = None
        self.agents = self.possible_agents[:]
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {agent: copy.deepcopy(info) for agent in self.agents}
        self._agent_selector = AgentSelector(self.agents)
        self.agent_selection = self._agent_selector.reset()

    def observe(self, agent: str) -> dict[str, Any]:
        sim = self.simulator
        student = sim.observation()
        to_speak = np.int64(agent == self.agent_selection and agent in self.agents)
        if agent == SALESPERSON:
            return {"text": student, "to_speak": to_speak}
        statuses = sim.state.as_dict(sim.persona)["concerns"]
        text = teacher_view(student, concern_records(sim.persona, sim.state), statuses)
        if self._decided is not None:
            user_act, words = self._decided
            about = f" (concern: {user_act.concern})" if user_act.concern else ""
            text += f"\n\n{CUE_HEADER}\nAct: {user_act.act}{about}\n{SIMULATOR_WORDS}{words}"
        return {"text": text, "to_speak": to_speak}

    def step(self, action: str | None) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        if not isinstance(action, str):
            raise TypeError(f"the {agent}'s action must be a str (its utterance), got {type(action).__name__}")
        self._cumulative_rewards[agent] = 0.0
        self.rewards = dict.fromkeys(self.agents, 0.0)
        if agent == SALESPERSON:
            user_act, words = self.simulator.decide(action)
            self._decided = (user_act, sanitize(words))
        else:
            self._customer_says(action)
        self.agent_selection = self._agent_selector.next()
        self._accumulate_rewards()
        if self.render_mode == "human":
            self.render()

    def _customer_says(self, words: str) -> None:
        # The simulator's state machine already decided this turn; the customer only words it.
        self._decided = None
        _, reward, ended, _, info = self.simulator.speak(words)
        timeout = not ended and info["turn"] >= self.max_turns
        if timeout:
            info["outcome"] = "timeout"
        self.rewards[SALESPERSON] = float(reward)
        self.terminations = dict.fromkeys(self.agents, ended)
        self.truncations = dict.fromkeys(self.agents, timeout)
        self.infos = {agent: copy.deepcopy(info) for agent in self.agents}

    def render(self) -> str | None:
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode; pass render_mode='ansi' or 'human'")
            return None
        text = render_transcript(self.simulator.transcript)
        if self.render_mode == "human":
            print(text, end="\n\n")
            return None
        return text

    def close(self) -> None:
        self.simulator.close()


class TurnTakingParallelEnv(ParallelEnv):
    """The parallel form of a turn-taking :class:`raw_env`: each ``step`` is one utterance.

    A sales call is not simultaneous: the customer answers the salesperson's line. So each
    parallel step takes ``actions`` for every live agent, as the parallel API requires, but plays
    only the action of the agent whose observation has ``to_speak == 1``; the other action is
    ignored. Salesperson and customer steps alternate, starting with the salesperson.
    """

    def __init__(self, aec_env: raw_env):
        self.aec_env = aec_env
        self.metadata = aec_env.metadata
        self.possible_agents = aec_env.possible_agents
        self.render_mode = aec_env.render_mode
        self.agents: list[str] = []

    def observation_space(self, agent: str) -> spaces.Space:
        return self.aec_env.observation_space(agent)

    def action_space(self, agent: str) -> spaces.Space:
        return self.aec_env.action_space(agent)

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        self.aec_env.reset(seed=seed, options=options)
        self.agents = self.aec_env.agents[:]
        return self._observations(), {a: dict(self.aec_env.infos[a]) for a in self.agents}

    def step(self, actions: dict[str, str]) -> tuple[dict, dict, dict, dict, dict]:
        speaker = self.aec_env.agent_selection
        if speaker not in actions:
            raise ValueError(f"it is the {speaker}'s turn but actions has no entry for it: {sorted(actions)}")
        self.aec_env.step(actions[speaker])
        env = self.aec_env
        results = (
            self._observations(),
            {a: env.rewards[a] for a in self.agents},
            {a: env.terminations[a] for a in self.agents},
            {a: env.truncations[a] for a in self.agents},
            {a: dict(env.infos[a]) for a in self.agents},
        )
        # The call ends for both agents at once; the AEC env's dead-agent steps are not needed here.
        if any(env.terminations[a] or env.truncations[a] for a in self.agents):
            self.agents = []
        return results

    def _observations(self) -> dict[str, Any]:
        return {a: self.aec_env.observe(a) for a in self.agents}

    def render(self) -> str | None:
        return self.aec_env.render()

    def close(self) -> None:
        self.aec_env.close()


def play_call(
    aec_env: AECEnv,
    salesperson: Policy,
    customer: Policy | None = None,
    *,
    seed: int | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Play one call with two policies (callables from an agent's observation to its words) and
    return the last ``info`` (outcome, concerns, state). ``customer`` defaults to
    :class:`SimulatorCustomer`."""
    policies = {SALESPERSON: salesperson, CUSTOMER: customer or SimulatorCustomer()}
    aec_env.reset(seed=seed, options=options)
    info: dict[str, Any] = {}
    for agent in aec_env.agent_iter():
        observation, _, terminated, truncated, info = aec_env.last()
        aec_env.step(None if terminated or truncated else policies[agent](observation))
    return info


def _observation_space(max_length: int) -> spaces.Dict:
    return spaces.Dict(
        {"text": spaces.Text(max_length=max_length, min_length=1, charset=CHARSET), "to_speak": spaces.Discrete(2)}
    )
