import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import ptod_env  # noqa: F401 - registers the ids
from ptod_env.views import CONCERNS_HEADER, teacher_view
from wrappers import PrivilegedView

# check_env warns whenever it is given a wrapped env; checking the wrapper is the point here.
CHECKING_A_WRAPPER = pytest.mark.filterwarnings("ignore:.*is different from the unwrapped version:UserWarning")


@CHECKING_A_WRAPPER
@pytest.mark.parametrize("statuses", [False, True])
def test_check_env(statuses):
    check_env(PrivilegedView(gym.make("ProactiveSales-v0"), statuses=statuses), skip_render_check=True)


@pytest.mark.parametrize("statuses", [False, True])
def test_teacher_prompt_is_the_student_prompt_plus_the_block(statuses):
    student, teacher = gym.make("ProactiveSales-v0"), PrivilegedView(gym.make("ProactiveSales-v0"), statuses=statuses)
    obs, info = student.reset(seed=3)
    tobs, _ = teacher.reset(seed=3)
    for action in ("Hi, this is Alex from FeastFleet.", "What is holding you back from offering delivery?"):
        assert tobs == teacher_view(obs, info["concerns"], info["state"]["concerns"] if statuses else None)
        assert obs not in tobs and CONCERNS_HEADER in tobs and CONCERNS_HEADER not in obs
        obs, *_, info = student.step(action)
        tobs, *_ = teacher.step(action)
    assert all(c["description"] in tobs for c in info["concerns"])


def test_bad_arguments():
    with pytest.raises(TypeError, match="statuses must be a bool, got 'yes'"):
        PrivilegedView(gym.make("ProactiveSales-v0"), statuses="yes")
    with pytest.raises(ValueError, match="text observation"):
        PrivilegedView(gym.make("CartPole-v1"))
    with pytest.raises(TypeError, match=r"wraps a gymnasium\.Env"):
        PrivilegedView("ProactiveSales-v0")
