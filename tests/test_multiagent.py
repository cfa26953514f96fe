import subprocess
import sys

import gymnasium as gym
import pytest

pytest.importorskip("pettingzoo", reason="the PettingZoo env needs the 'pettingzoo' extra")

from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test

import ptod_env
from ptod_env import multiagent
from ptod_env.agents import make_agent
from ptod_env.views import CONCERNS_HEADER

# api_test recommends array spaces and agent names like "player_0"; a dialogue has text spaces and
# named roles, by design.
TEXT_ENV_ADVICE = pytest.mark.filterwarnings("ignore::UserWarning:pettingzoo.test.api_test")


def test_import_ptod_env_does_not_import_pettingzoo():
    code = "import sys, ptod_env; print('pettingzoo' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


@TEXT_ENV_ADVICE
@pytest.mark.parametrize("domain", ptod_env.shipped_scenarios())
def test_api_test(domain):
    api_test(multiagent.env(domain=domain), num_cycles=200)


@TEXT_ENV_ADVICE
@pytest.mark.parametrize("domain", ptod_env.shipped_scenarios())
def test_parallel_api_test(domain):
    parallel_api_test(multiagent.parallel_env(domain=domain), num_cycles=200)


def test_seed_tests():
    seed_test(multiagent.env, num_cycles=200)
    parallel_seed_test(multiagent.parallel_env, num_cycles=200)


def test_spaces_are_the_same_object_every_call():
    env = multiagent.raw_env()
    for agent in env.possible_agents:
        assert env.observation_space(agent) is env.observation_space(agent)
        assert env.action_space(agent) is env.action_space(agent)


def _salesperson_and_gym_run(seed):
    gym_env = gym.make("ProactiveSales-v0")
    obs, info = gym_env.reset(seed=seed)
    agent = make_agent("proactive", gym_env.unwrapped.pack, seed)
    agent.reset(obs, info)
    observations, utterances, done = [obs], [], False
    while not done:
        utterances.append(agent.act(obs, info))
        obs, reward, terminated, truncated, info = gym_env.step(utterances[-1])
        observations.append(obs)
        done = terminated or truncated
    return observations, utterances, reward, info


@pytest.mark.parametrize("seed", range(6))
def test_simulator_customer_replays_the_gymnasium_env(seed):
    observations, utterances, _, info = _salesperson_and_gym_run(seed)
    said = iter(utterances)
    seen = []
    env = multiagent.env()
    last_info = multiagent.play_call(env, lambda o: seen.append(o["text"]) or next(said), seed=seed)
    assert seen == observations[:-1]
    assert last_info["outcome"] == info["outcome"]
    assert last_info["transition"] == info["transition"]


def test_rewards_and_views():
    env = multiagent.env()
    seed = next(s for s in range(50) if _salesperson_and_gym_run(s)[3]["outcome"] == "accepted")
    _, utterances, _, _ = _salesperson_and_gym_run(seed)
    said = iter(utterances)
    env.reset(seed=seed)
    customer = multiagent.SimulatorCustomer()
    returns = {"salesperson": 0.0, "customer": 0.0}
    for agent in env.agent_iter():
        obs, reward, terminated, truncated, _ = env.last()
        returns[agent] += reward
        if terminated or truncated:
            env.step(None)
            continue
        assert obs["to_speak"] == 1
        if agent == "salesperson":
            assert CONCERNS_HEADER not in obs["text"]
            env.step(next(said))
        else:
            assert CONCERNS_HEADER in obs["text"] and multiagent.CUE_HEADER in obs["text"]
            env.step(customer(obs))
    assert returns == {"salesperson": 1.0, "customer": 0.0}


def test_custom_customer_words_replace_the_simulators_and_the_state_keeps_tracking():
    env = multiagent.env(render_mode="ansi")
    said = iter(["Hello, this is Alex from FeastFleet.", "What is holding you back from offering delivery?"])
    env.reset(seed=3)
    for agent in env.agent_iter(max_iter=4):
        obs, *_ = env.last()
        env.step(next(said) if agent == "salesperson" else f"[{agent} line {obs['text'].count('Agent:')}]")
    transcript = env.render()
    assert "User: [customer line 1]" in transcript and "User: [customer line 2]" in transcript
    assert env.unwrapped.simulator.state.turn == 2
    assert env.infos["salesperson"]["agent_acts"] == [{"act": "probe_open", "topic": None, "quality": None}]


def test_parallel_env_plays_only_the_speakers_action():
    env = multiagent.parallel_env()
    observations, _ = env.reset(seed=0)
    assert observations["salesperson"]["to_speak"] == 1 and observations["customer"]["to_speak"] == 0
    observations, *_ = env.step({"salesperson": "Hello, this is Alex.", "customer": "ignored"})
    assert observations["customer"]["to_speak"] == 1
    words = multiagent.simulator_words(observations["customer"]["text"])
    observations, *_ = env.step({"salesperson": "ignored", "customer": words})
    text = observations["salesperson"]["text"]
    assert text.endswith(f"User: {words}") and "ignored" not in text


def test_timeout_truncates_both_agents():
    env = multiagent.parallel_env(max_turns=2)
    observations, _ = env.reset(seed=1)
    lines = iter(["Hello, this is Alex from FeastFleet.", "What is holding you back from offering delivery?"])
    while env.agents:
        if observations["salesperson"]["to_speak"]:
            actions = {"salesperson": next(lines), "customer": ""}
        else:
            actions = {"salesperson": "", "customer": multiagent.SimulatorCustomer()(observations["customer"])}
        observations, _, terminations, truncations, infos = env.step(actions)
    assert terminations == {"salesperson": False, "customer": False}
    assert truncations == {"salesperson": True, "customer": True}
    assert infos["customer"]["outcome"] == "timeout"


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_turns must be a positive int, got 0"):
        multiagent.raw_env(max_turns=0)
    with pytest.raises(ValueError, match="render_mode must be one of"):
        multiagent.raw_env(render_mode="rgb_array")
    with pytest.raises(ptod_env.ScenarioError, match="unknown scenario"):
        multiagent.raw_env(domain="nope")
    env = multiagent.env()
    env.reset(seed=0)
    with pytest.raises(TypeError, match="salesperson's action must be a str"):
        env.step(3)
    with pytest.raises(ValueError, match="not the customer's turn"):
        multiagent.SimulatorCustomer()(env.observe("customer"))
