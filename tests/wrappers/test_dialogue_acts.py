import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from ptod_env import shipped_scenarios
from ptod_env.evaluation import env_id_for
from ptod_env.understanding import LexicalUnderstanding
from wrappers import DialogueActs

DOMAIN_IDS = [env_id_for(domain) for domain in shipped_scenarios()]

# check_env warns whenever it is given a wrapped env; checking the wrapper is the point here.
CHECKING_A_WRAPPER = pytest.mark.filterwarnings("ignore:.*is different from the unwrapped version:UserWarning")


@CHECKING_A_WRAPPER
@pytest.mark.parametrize("env_id", DOMAIN_IDS)
@pytest.mark.parametrize("privileged", [False, True])
def test_gymnasium_and_sb3_checkers(env_id, privileged):
    sb3_check_env = pytest.importorskip("stable_baselines3.common.env_checker").check_env
    check_env(DialogueActs(gym.make(env_id), privileged=privileged), skip_render_check=True)
    sb3_check_env(DialogueActs(gym.make(env_id), privileged=privileged), warn=True)


def test_spaces_and_names():
    env = DialogueActs(gym.make("ProactiveSales-v0"))
    n = len(env.pack.concerns)
    assert env.action_space.n == len(env.action_names) == 6 + 2 * n
    assert env.observation_space.shape == (len(env.feature_names),)
    privileged = DialogueActs(gym.make("ProactiveSales-v0"), privileged=True)
    assert privileged.feature_names[: len(env.feature_names)] == env.feature_names
    assert len(privileged.feature_names) == len(env.feature_names) + n * 10


@pytest.mark.parametrize("env_id", DOMAIN_IDS)
def test_every_sentence_is_understood_as_its_act(env_id):
    env = DialogueActs(gym.make(env_id))
    env.reset(seed=0)
    understanding = LexicalUnderstanding(env.pack)
    for action, name in enumerate(env.action_names):
        act, _, topic = name.partition(":")
        for _ in env.sentences[action]:
            acts = understanding.understand(env.sentence(action), [])
            env._used[action] += 1
            # A topical offer is played as an address of that topic by the dynamics.
            got = {("address" if a.act == "offer" and a.topic else a.act, a.topic) for a in acts}
            assert got == {(act, topic or None)}, (name, acts)


def test_deployable_features_follow_what_the_user_said():
    env = DialogueActs(gym.make("ProactiveSales-v0"))
    names = env.feature_names
    obs, _ = env.reset(seed=5)
    assert obs[names.index("turn")] == 0 and obs[names.index("user_act:answer_phone")] == 1
    assert all(obs[names.index(f"{cid}:mentioned")] == 0 for cid in env.pack.concern_ids)
    said = set()
    for turn, name in enumerate(("greet", "probe_open", "empathize", "probe_open"), start=1):
        obs, *_, info = env.step(env.action_names.index(name))
        user_act = info["user_act"]
        guess = [a for a in env.user_acts if obs[names.index(f"user_act:{a}")] == 1]
        assert len(guess) == 1
        if user_act["act"] in ("hint", "voice"):
            # Read from the words alone, a terse "voice" can look like a "hint": only the family is sure.
            assert guess[0] in ("hint", "voice")
            said.add(user_act["concern"])
        assert obs[names.index("turn")] == pytest.approx(turn / env.max_turns)
        assert obs[names.index(f"used:{name}")] > 0
    assert said, "the script should draw out at least one concern for this seed"
    for cid in env.pack.concern_ids:
        assert obs[names.index(f"{cid}:mentioned")] == (cid in said)


def test_privileged_features_match_info():
    env = DialogueActs(gym.make("ProactiveSales-v0"), privileged=True)
    obs, info = env.reset(seed=7)
    held = {c["id"]: c for c in info["concerns"]}
    for cid in env.pack.concern_ids:
        value = obs[env.feature_names.index(f"{cid}:held")]
        assert value == (cid in held)
        if cid in held:
            assert obs[env.feature_names.index(f"{cid}:disclosure:{held[cid]['disclosure']}")] == 1
            assert obs[env.feature_names.index(f"{cid}:status:latent")] == 1


def test_same_seed_same_features():
    a, b = DialogueActs(gym.make("ProactiveSales-v0")), DialogueActs(gym.make("ProactiveSales-v0"))
    rng = np.random.default_rng(0)
    oa, _ = a.reset(seed=11)
    ob, _ = b.reset(seed=11)
    done = False
    while not done:
        assert np.array_equal(oa, ob)
        action = int(rng.integers(a.action_space.n))
        oa, ra, ta, tra, _ = a.step(action)
        ob, rb, tb, trb, _ = b.step(np.int64(action))
        assert (ra, ta, tra) == (rb, tb, trb)
        done = ta or tra


def test_bad_arguments():
    with pytest.raises(TypeError, match="privileged must be a bool, got 1"):
        DialogueActs(gym.make("ProactiveSales-v0"), privileged=1)
    with pytest.raises(ValueError, match="max_turns must be a positive int, got 0"):
        DialogueActs(gym.make("ProactiveSales-v0"), max_turns=0)
    env = DialogueActs(gym.make("ProactiveSales-v0"))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must be an int in \[0, 24\), got 99"):
        env.step(99)
    for flag in (True, np.bool_(False)):
        with pytest.raises(TypeError, match="not a bool"):
            env.step(flag)
