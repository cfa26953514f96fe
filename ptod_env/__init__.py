"""ptod_env: a Cognitive User Simulator for proactive sales dialogue, as Gymnasium environments.

Importing this package registers ``ProactiveSales-v0`` (the merchant domain) and, for every pack
in ``ptod_env/scenarios/``, the pack's ``env_id``. It never imports torch.
"""

import os
import warnings
from pathlib import Path

from gymnasium.envs.registration import WrapperSpec, register, registry

from ptod_env.acts import AgentAct, UserAct
from ptod_env.dynamics import Rules, UserState, initial_state, transition
from ptod_env.env import EpisodeOverError, ProactiveSalesEnv, TimeoutOutcome
from ptod_env.persona import Concern, Persona, sample_persona
from ptod_env.scenario import (
    SCENARIO_DIR,
    ScenarioError,
    ScenarioPack,
    load_scenario,
    remember_scenario,
    shipped_scenarios,
)
from ptod_env.views import render_concern_block, teacher_view

__version__ = "0.1.0"
MAX_TURNS = 14
"""Default turn cap (``max_episode_steps``) of every registered id."""
DEFAULT_ENV_ID = "ProactiveSales-v0"
"""The id of the default domain, ``merchant_recruitment``."""
ENV_IDS: dict[str, str] = {}
"""Every registered id and the domain (pack name) it plays: ``ProactiveSales-v0``, each shipped
pack's ``env_id``, and each id :func:`register_scenario` added."""

_TIMEOUT = WrapperSpec("TimeoutOutcome", "ptod_env.env:TimeoutOutcome", {})


def register_scenario(scenario: str | os.PathLike[str], env_id: str | None = None, max_turns: int = MAX_TURNS) -> str:
    """Register a scenario pack (a shipped name or a file path) with Gymnasium and return its id.

    The id is the pack's ``env_id`` unless ``env_id`` is given. Afterwards ``gym.make(id)``,
    :data:`ENV_IDS`, ``load_scenario(pack.name)`` and everything that takes a ``domain`` (``ptod
    rollout``, ``evaluate``...) know the pack. Registering the same pack again is a no-op.

    Raises:
        ScenarioError: the pack does not load, or its name or id already belongs to another pack.
        ValueError: ``max_turns`` is not a positive int.
    """
    if isinstance(max_turns, bool) or not isinstance(max_turns, int) or max_turns < 1:
        raise ValueError(f"max_turns must be a positive int, got {max_turns!r}")
    pack = load_scenario(scenario)
    env_id = pack.env_id if env_id is None else env_id
    remember_scenario(pack)
    if ENV_IDS.get(env_id, pack.name) != pack.name:
        raise ScenarioError(
            f"{pack.source}: env id {env_id!r} already plays {ENV_IDS[env_id]!r}; fix: give the pack another env_id"
        )
    shipped = pack.name in shipped_scenarios() and Path(pack.source).parent == SCENARIO_DIR.resolve()
    kwargs = {"domain": pack.name} if shipped else {"scenario": pack.source}
    spec = registry.get(env_id)
    if spec is None or spec.kwargs != kwargs or spec.max_episode_steps != max_turns:
        register(
            id=env_id,
            entry_point="ptod_env.env:ProactiveSalesEnv",
            max_episode_steps=max_turns,
            additional_wrappers=(_TIMEOUT,),
            kwargs=kwargs,
        )
    ENV_IDS[env_id] = pack.name
    return env_id


register_scenario("merchant_recruitment", DEFAULT_ENV_ID)
for _name in shipped_scenarios():
    try:
        register_scenario(_name)
    except ScenarioError as _error:  # one broken pack must not take the others down
        warnings.warn(f"ptod_env: scenario pack {_name!r} not registered: {_error}", RuntimeWarning, stacklevel=1)

__all__ = [
    "DEFAULT_ENV_ID",
    "ENV_IDS",
    "MAX_TURNS",
    "AgentAct",
    "Concern",
    "EpisodeOverError",
    "Persona",
    "ProactiveSalesEnv",
    "Rules",
    "ScenarioError",
    "ScenarioPack",
    "TimeoutOutcome",
    "UserAct",
    "UserState",
    "initial_state",
    "load_scenario",
    "register_scenario",
    "render_concern_block",
    "sample_persona",
    "shipped_scenarios",
    "teacher_view",
    "transition",
]
