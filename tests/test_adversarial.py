"""The adversarial suite: cheap formulas and re-paced moves never beat listening (ptod_env.adversaries).

60 test users per domain (episode i: test user i, env seed i, as ``ptod rollout``), the same users
for every policy; ``benchmarks/adversarial.py`` runs the full table.
"""

import functools

import gymnasium as gym
import pytest

from ptod_env.adversaries import ADVERSARIES, DEAF, GUESSING, PACING, PADDING, PARAPHRASE, Padded, make_adversary
from ptod_env.agents import make_agent
from ptod_env.evaluation import env_id_for, episode_options, run_episode
from ptod_env.scenario import shipped_scenarios

USERS = 60


@functools.cache
def success(policy: str, domain: str) -> float:
    env = gym.make(env_id_for(domain), split="test")
    pack = env.unwrapped.pack
    agent = make_adversary(policy, pack, 0) if policy in ADVERSARIES else make_agent(policy, pack, 0)
    outcomes = [run_episode(env, agent, seed=i, options=episode_options("test", i))["outcome"] for i in range(USERS)]
    return outcomes.count("accepted") / USERS


@pytest.mark.parametrize("domain", shipped_scenarios())
def test_reference_agents_keep_their_bands(domain):
    assert success("oracle", domain) >= 0.95
    assert success("proactive", domain) >= 0.65
    assert success("passive", domain) <= 0.10


@pytest.mark.parametrize("domain", shipped_scenarios())
@pytest.mark.parametrize("policy", sorted(set(ADVERSARIES) - PARAPHRASE))
def test_no_formula_beats_listening(policy, domain):
    rate = success(policy, domain)
    # Pacing re-orders the proactive agent's moves and keeps the pack's real answers, so it may tie
    # the agent it re-paces: within two users of sixty is a tie, not a gain (on 300 users each is
    # below it, docs/simulator.md).
    tie = 2 / USERS if policy in PACING else 0.0
    assert rate <= success("proactive", domain) + tie, f"{policy} reaches {rate:.3f} on {domain}"
    if policy in PADDING | PACING:
        # Padding wraps an agent that listens, pacing re-orders its moves: neither may pay.
        wrapped = "oracle" if policy.endswith("oracle") else "proactive"
        assert rate <= success(wrapped, domain) + tie, f"{policy} reaches {rate:.3f} on {domain}"
        return
    # Everything else gives the user nothing, or never listens.
    assert rate <= 0.15, f"{policy} reaches {rate:.3f} on {domain}"
    if policy in DEAF - GUESSING:
        assert rate <= 0.05


@pytest.mark.parametrize("domain", shipped_scenarios())
@pytest.mark.parametrize("policy", sorted(PARAPHRASE))
def test_natural_paraphrase_of_listening_succeeds(policy, domain):
    """The proactive agent's moves in words of its own are read and judged as the pack's lines."""
    assert success(policy, domain) >= success("proactive", domain) - 0.1


def test_adversaries_see_only_the_observation_except_the_oracle_variants():
    env = gym.make("ProactiveSales-v0", split="test")
    obs, _ = env.reset(seed=0, options={"persona_index": 0})
    for name in sorted(name for name in ADVERSARIES if "oracle" not in name):
        agent = make_adversary(name, env.unwrapped.pack, 0)
        agent.reset(obs, {})
        assert isinstance(agent.act(obs, {}), str)
    with pytest.raises(ValueError, match="unknown adversary"):
        make_adversary("telepath", env.unwrapped.pack)


@pytest.mark.parametrize("domain", shipped_scenarios())
@pytest.mark.parametrize(("empathy", "offer"), [(True, False), (False, True)])
@pytest.mark.parametrize("agent", ["proactive", "oracle"])
def test_padding_never_helps_the_agent_it_wraps(agent, empathy, offer, domain):
    env = gym.make(env_id_for(domain), split="test")
    padded = Padded(make_agent(agent, env.unwrapped.pack, 0), empathy=empathy, offer=offer)
    wins = [run_episode(env, padded, seed=i, options=episode_options("test", i))["outcome"] for i in range(USERS)]
    assert wins.count("accepted") / USERS <= success(agent, domain)
