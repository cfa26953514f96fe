import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ptod_env  # noqa: F401 - registers the ids
from ptod_env.shaping import PotentialWeights, potential
from wrappers import DialogueActs, StateTransitionReward


def _play(env, seed, actions):
    _, info = env.reset(seed=seed)
    first = (info["state"], info["concerns"])
    rewards, shaping, done, i = [], [], False, 0
    while not done:
        _, reward, terminated, truncated, info = env.step(actions[i % len(actions)])
        rewards.append(reward)
        shaping.append(info["shaping"])
        done, i = terminated or truncated, i + 1
    return first, info, rewards, shaping


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), actions=st.lists(st.integers(0, 23), min_size=1, max_size=8))
def test_shaping_telescopes_over_an_episode(seed, actions):
    weights = PotentialWeights(stage=0.5, trust=0.2, concerns=0.3)
    env = StateTransitionReward(DialogueActs(gym.make("ProactiveSales-v0")), weights=weights, scale=2.0)
    (state0, concerns0), last, rewards, shaping = _play(env, seed, actions)
    expected = 2.0 * (potential(last["state"], last["concerns"], weights) - potential(state0, concerns0, weights))
    assert sum(shaping) == pytest.approx(expected, abs=1e-9)
    accepted = 1.0 if last["outcome"] == "accepted" else 0.0
    assert sum(rewards) == pytest.approx(expected + accepted, abs=1e-9)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), actions=st.lists(st.integers(0, 23), min_size=1, max_size=8))
def test_terminal_zero_with_discount(seed, actions):
    gamma = 0.9
    env = StateTransitionReward(DialogueActs(gym.make("ProactiveSales-v0")), gamma=gamma, terminal_zero=True)
    (state0, concerns0), last, _, shaping = _play(env, seed, actions)
    # Discounted from the start, γ·Φ(s_k+1) − Φ(s_k) telescopes to γ^T·Φ(s_T) − Φ(s_0).
    discounted = sum(gamma**k * r for k, r in enumerate(shaping))
    final = potential(last["state"], last["concerns"], terminal_zero=True)
    expected = gamma ** len(shaping) * final - potential(state0, concerns0)
    assert discounted == pytest.approx(expected, abs=1e-9)
    if last["outcome"] in ("accepted", "rejected", "hung_up"):
        assert final == 0.0


def test_unshaped_env_reward_is_recoverable():
    env = StateTransitionReward(gym.make("ProactiveSales-v0"), scale=0.5)
    env.reset(seed=1)
    _, reward, *_, info = env.step("Hello, this is Alex from FeastFleet.")
    assert reward - info["shaping"] == 0.0
    assert np.isfinite(reward)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"scale": -1.0}, ValueError, "scale must be a finite number >= 0, got -1.0"),
        ({"scale": True}, ValueError, "scale must be a finite number >= 0, got True"),
        ({"gamma": 0.0}, ValueError, r"gamma must be a number in \(0, 1\], got 0.0"),
        ({"gamma": 1.5}, ValueError, r"gamma must be a number in \(0, 1\], got 1.5"),
        ({"terminal_zero": "no"}, TypeError, "terminal_zero must be a bool, got 'no'"),
        ({"weights": {"stage": 1.0}}, TypeError, "weights must be a ptod_env.shaping.PotentialWeights"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        StateTransitionReward(gym.make("ProactiveSales-v0"), **kwargs)
