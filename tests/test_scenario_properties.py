"""Property tests: the loader accepts every valid pack and answers every broken one with a
ScenarioError (never another exception, never a crash later at reset or step); ``reset`` accepts
exactly the valid options and answers the rest with TypeError or ValueError."""

import json
import tempfile
from pathlib import Path

import gymnasium as gym
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ptod_env.env import RESET_OPTIONS
from ptod_env.persona import Persona, split_range
from ptod_env.scenario import ScenarioError, load_scenario
from ptod_env.testing import broken_scenario_data, reset_options, scenario_data

PACK_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load_data(data, suffix):
    # A fresh file per example: packs are cached by path.
    folder = Path(tempfile.mkdtemp())
    path = folder / f"pack{suffix}"
    text = json.dumps(data) if suffix == ".json" else yaml.safe_dump(data, allow_unicode=False)
    path.write_text(text, encoding="utf-8")
    return load_scenario(path)


def play_a_little(pack):
    env = gym.make("ProactiveSales-v0", scenario=pack, max_episode_steps=3)
    lines = [*pack.agent_lines["greet"], *pack.concerns[0].probes, *pack.agent_lines["close"]]
    for seed in range(3):
        env.reset(seed=seed)
        for line in lines[:3]:
            *_, terminated, truncated, _ = env.step(line)
            if terminated or truncated:
                break


@PACK_SETTINGS
@given(scenario_data(), st.sampled_from([".yaml", ".json"]))
def test_valid_packs_load_and_play(data, suffix):
    pack = load_data(data, suffix)
    assert len(pack.concerns) == len(data["concerns"])
    play_a_little(pack)


@PACK_SETTINGS
@given(broken_scenario_data(), st.sampled_from([".yaml", ".json"]))
def test_broken_packs_raise_scenario_error_or_play(data, suffix):
    try:
        pack = load_data(data, suffix)
    except ScenarioError as exc:
        assert "fix:" in str(exc) or "not valid" in str(exc)
        return
    play_a_little(pack)  # a mutation that kept the pack valid must not fail later either


def is_valid(options, env):
    if options is None:
        return True
    if not isinstance(options, dict) or len(options) > 1 or not set(options) <= RESET_OPTIONS:
        return False
    low, high = split_range(env.unwrapped.split)
    if "persona" in options:
        persona = options["persona"]
        return (
            isinstance(persona, Persona) and persona.domain == env.unwrapped.pack.name and low <= persona.index < high
        )
    index = options.get("persona_index", low)
    return isinstance(index, int) and not isinstance(index, bool) and low <= index < high


@pytest.mark.parametrize("split", ["train", "test"])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_reset_accepts_exactly_the_valid_options(split, data):
    env = gym.make("ProactiveSales-v0", split=split)
    options = data.draw(reset_options(env.unwrapped.pack))
    if is_valid(options, env):
        env.reset(seed=0, options=options)
        return
    with pytest.raises((TypeError, ValueError)) as err:
        env.reset(seed=0, options=options)
    assert len(str(err.value)) > 20
