import gymnasium as gym
import numpy as np
import pytest

import ptod_env  # noqa: F401
from ptod_agents.prompts import EARLIER_TURNS, random_concerns, render_prompt, shorten_history
from ptod_env.views import CONCERNS_HEADER, teacher_view


@pytest.fixture
def played():
    env = gym.make("ProactiveSales-Merchant-v0")
    observation, info = env.reset(seed=3)
    for line in ["Hello there.", "How is business?", "We pay out every week.", "Can I sign you up?"]:
        observation, _, terminated, truncated, info = env.step(line)
        if terminated or truncated:
            break
    return env, observation, info


def test_student_prompt_is_the_observation_shortened(played):
    _, observation, _ = played
    assert render_prompt(observation, "student", None, 0) == observation
    short = render_prompt(observation, "student", None, 1)
    assert EARLIER_TURNS in short
    assert short.split("\n")[-1] == observation.split("\n")[-1]
    assert short.split("\n")[-2] == observation.split("\n")[-2]
    assert short.startswith(observation.split("### Conversation")[0])


def test_teacher_prompt_differs_only_by_the_concern_block(played):
    _, observation, info = played
    for history in (0, 1, 2):
        student = render_prompt(observation, "student", None, history)
        teacher = render_prompt(observation, "teacher", info["concerns"], history)
        assert teacher == shorten_history(teacher_view(observation, info["concerns"]), history)
        block = teacher[teacher.index(CONCERNS_HEADER) :].split("\n\n")[0] + "\n\n"
        assert teacher.replace(block, "") == student
    with pytest.raises(ValueError, match="concerns"):
        render_prompt(observation, "teacher", None, 1)


def test_random_concerns_keep_shape_and_come_from_the_bank(played):
    env, _, info = played
    pack = env.unwrapped.pack
    fake = random_concerns(pack, info["concerns"], np.random.default_rng(0))
    assert len(fake) == len(info["concerns"])
    assert len({c["id"] for c in fake}) == len(fake)
    bank = {spec.id: spec.label for spec in pack.concerns}
    assert all(bank[c["id"]] == c["label"] for c in fake)
    assert [c["severity"] for c in fake] == [c["severity"] for c in info["concerns"]]
