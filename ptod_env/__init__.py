"""ptod_env: a Cognitive User Simulator for proactive sales dialogue, as Gymnasium environments.

Importing this package registers ``ProactiveSales-v0`` (the merchant domain) and one id per
shipped domain. It never imports torch.
"""

from gymnasium.envs.registration import WrapperSpec, register

from ptod_env.acts import AgentAct, UserAct
from ptod_env.dynamics import Rules, UserState, initial_state, transition
from ptod_env.env import EpisodeOverError, ProactiveSalesEnv, TimeoutOutcome
from ptod_env.persona import Concern, Persona, sample_persona
from ptod_env.scenario import ScenarioError, ScenarioPack, load_scenario, shipped_scenarios
from ptod_env.views import render_concern_block, teacher_view

__version__ = "0.1.0"
MAX_TURNS = 14
"""Default turn cap (``max_episode_steps``) of every registered id."""
ENV_IDS = {
    "ProactiveSales-v0": "merchant_recruitment",
    "ProactiveSales-Merchant-v0": "merchant_recruitment",
    "ProactiveSales-Courier-v0": "courier_recruitment",
}
"""Every registered id and the domain it plays."""

_TIMEOUT = WrapperSpec("TimeoutOutcome", "ptod_env.env:TimeoutOutcome", {})


def register_scenario(env_id: str, scenario: str, max_turns: int = MAX_TURNS) -> None:
    """Register ``env_id`` for a scenario pack (a shipped name or a file path)."""
    register(
        id=env_id,
        entry_point="ptod_env.env:ProactiveSalesEnv",
        max_episode_steps=max_turns,
        additional_wrappers=(_TIMEOUT,),
        kwargs={"scenario": scenario} if scenario not in ENV_IDS.values() else {"domain": scenario},
    )


for _env_id, _domain in ENV_IDS.items():
    register_scenario(_env_id, _domain)

__all__ = [
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
