import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import ptod_env  # noqa: F401 - registers the ids
from ptod_env.views import BRIEF_HEADER, CONCERNS_HEADER, split_observation
from wrappers import ChatMessages, PrivilegedView

# check_env warns whenever it is given a wrapped env; checking the wrapper is the point here.
CHECKING_A_WRAPPER = pytest.mark.filterwarnings("ignore:.*is different from the unwrapped version:UserWarning")


@CHECKING_A_WRAPPER
@pytest.mark.parametrize("brief_in", ["system", "user"])
def test_check_env(brief_in):
    check_env(ChatMessages(gym.make("ProactiveSales-v0"), brief_in=brief_in), skip_render_check=True)


def test_messages_alternate_and_hold_the_whole_observation():
    env = ChatMessages(gym.make("ProactiveSales-v0"), system_prompt="Sell.")
    messages, _ = env.reset(seed=1)
    messages, *_ = env.step("Hello, this is Alex from FeastFleet.")
    messages, *_ = env.step({"role": "assistant", "content": "What is holding you back?"})
    roles = [m["role"] for m in messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[0]["content"].startswith(f"Sell.\n\n{BRIEF_HEADER}")
    assert messages[2]["content"] == "Hello, this is Alex from FeastFleet."
    assert messages[4]["content"] == "What is holding you back?"


def test_brief_in_user_message_and_empty_system_prompt():
    env = ChatMessages(gym.make("ProactiveSales-v0"), system_prompt="", brief_in="user")
    messages, _ = env.reset(seed=1)
    assert [m["role"] for m in messages] == ["user"]
    assert messages[0]["content"].startswith(BRIEF_HEADER)


def test_over_privileged_view_the_system_message_holds_the_concerns():
    env = ChatMessages(PrivilegedView(gym.make("ProactiveSales-v0")))
    messages, _ = env.reset(seed=1)
    assert CONCERNS_HEADER in messages[0]["content"]


def test_split_observation_inverts_render_observation():
    env = gym.make("ProactiveSales-v0")
    obs, _ = env.reset(seed=2)
    obs, *_ = env.step("Hi there: this is Alex.")
    head, turns = split_observation(obs)
    assert head.startswith(BRIEF_HEADER)
    assert turns[1] == ("Agent", "Hi there: this is Alex.")
    with pytest.raises(ValueError, match="Conversation"):
        split_observation("no sections")


def test_bad_arguments():
    env = gym.make("ProactiveSales-v0")
    with pytest.raises(ValueError, match="brief_in must be 'system' or 'user', got 'assistant'"):
        ChatMessages(env, brief_in="assistant")
    with pytest.raises(TypeError, match="system_prompt must be a str, got int"):
        ChatMessages(env, system_prompt=3)
    chat = ChatMessages(env)
    chat.reset(seed=0)
    with pytest.raises(TypeError, match="assistant message"):
        chat.step({"role": "user", "content": "hi"})
