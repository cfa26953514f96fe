"""The SkyRL-Gym adapter plays exactly the Gymnasium env: same observations (in chat form),
rewards, ends and outcomes on the same seeds and actions, with privileged data only in metadata."""

import gymnasium as gym
import pytest

skyrl_gym = pytest.importorskip("skyrl_gym")

from ptod_env.agents import make_agent  # noqa: E402
from ptod_env.evaluation import episode_options  # noqa: E402
from ptod_env.integrations.skyrl import ProactiveSalesTextEnv, skyrl_dataset, skyrl_env_id  # noqa: E402
from ptod_env.scenario import load_scenario, shipped_scenarios  # noqa: E402
from ptod_env.views import CONCERNS_HEADER  # noqa: E402
from wrappers import ChatMessages, StateTransitionReward  # noqa: E402


def play_both(domain, agent_name, seed, index, turn_rewards):
    """Play one user on the Gymnasium env and on the SkyRL env with the same actions; return
    both sides' per-turn results."""
    gym_env = gym.make("ProactiveSales-v0", domain=domain, split="test")
    if turn_rewards:
        gym_env = StateTransitionReward(gym_env)
    chat = ChatMessages(gym_env)
    options = episode_options("test", index)
    sky = skyrl_gym.make(
        skyrl_env_id(domain),
        env_config={"env_kwargs": {"split": "test"}, "turn_rewards": turn_rewards},
        extras={"extra_info": {"seed": seed, **options}, "max_turns": 14},
    )
    obs, info = gym_env.reset(seed=seed, options=options)
    history, metadata = sky.init([])
    assert tuple(history) == chat.messages(obs)
    assert metadata["concerns"] == info["concerns"]
    agent = make_agent(agent_name, load_scenario(domain), seed)
    agent.reset(obs, info)
    done, outcomes = False, []
    while not done:
        action = agent.act(obs, info)
        obs, reward, terminated, truncated, info = gym_env.step(action)
        out = sky.step(action)
        done = terminated or truncated
        history += [{"role": "assistant", "content": action}, *out["observations"]]
        if not done:  # SkyRL's generator adds no message after the last turn
            assert tuple(history) == chat.messages(obs)
        assert out["reward"] == pytest.approx(float(reward), abs=1e-12)
        assert out["done"] == done
        assert out["metadata"]["transition"] == info["transition"]
        outcomes.append(out["metadata"]["outcome"])
        # Privileged data stays out of what the model reads.
        assert all(CONCERNS_HEADER not in m["content"] for m in history)
    assert outcomes[-1] == info["outcome"] is not None
    assert sky.get_metrics()["success"] == float(info["outcome"] == "accepted")
    return outcomes[-1]


@pytest.mark.parametrize("domain", shipped_scenarios())
@pytest.mark.parametrize("turn_rewards", [False, True])
def test_skyrl_env_reproduces_the_gymnasium_env(domain, turn_rewards):
    outcomes = [
        play_both(domain, agent, seed=100 + i, index=i, turn_rewards=turn_rewards)
        for agent in ("proactive", "passive", "random")
        for i in range(4)
    ]
    assert "accepted" in outcomes and len(set(outcomes)) > 1  # the check covered different endings


def test_every_shipped_pack_is_registered():
    for domain in shipped_scenarios():
        env = skyrl_gym.make(skyrl_env_id(domain), env_config={}, extras={})
        assert isinstance(env, ProactiveSalesTextEnv)
        history, _ = env.init([{"role": "system", "content": "Sell politely."}])
        assert history[0]["role"] == "system" and history[0]["content"].startswith("Sell politely.")
        assert [m["role"] for m in history] == ["system", "user"]


def test_dataset_rows_replay_the_same_user():
    rows = skyrl_dataset("courier_recruitment", split="test", users=3, seed=7)
    assert [r["extra_info"]["seed"] for r in rows] == [7, 8, 9]
    first = [skyrl_gym.make(rows[1]["env_class"], env_config={}, extras=rows[1]).init(rows[1]["prompt"]) for _ in "ab"]
    assert first[0] == first[1]


def test_bad_config_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown env_config keys"):
        skyrl_gym.make(skyrl_env_id("merchant_recruitment"), env_config={"turn_reward": True}, extras={})
    with pytest.raises(ValueError, match="max_turns"):
        skyrl_gym.make(skyrl_env_id("merchant_recruitment"), env_config={}, extras={"max_turns": 0})
    with pytest.raises(ValueError, match="unknown shaping keys"):
        skyrl_gym.make(
            skyrl_env_id("merchant_recruitment"), env_config={"turn_rewards": True, "shaping": {"scal": 1}}, extras={}
        )


def test_step_before_init_is_a_clear_error():
    from ptod_env import EpisodeOverError

    env = skyrl_gym.make(skyrl_env_id("merchant_recruitment"), env_config={}, extras={})
    with pytest.raises(EpisodeOverError, match="init"):
        env.step("Hello.")


def test_turn_cap_is_a_truncation_with_timeout_outcome():
    env = skyrl_gym.make(skyrl_env_id("merchant_recruitment"), env_config={}, extras={"max_turns": 2})
    env.init([])
    assert env.step("Hello there.")["done"] is False
    last = env.step("Nice weather today.")
    assert last["done"] is True and last["observations"] == []
    assert last["metadata"]["outcome"] == "timeout"
