"""Vector envs: sync and async (without shared memory, see docs/vectorization.md) agree."""

import gymnasium as gym
import numpy as np

import ptod_env  # noqa: F401 - registers the ids
from wrappers import DialogueActs

SCRIPT = [
    ("Hi, this is Alex from FeastFleet.", "Hello, my name is Alex and I am calling from FeastFleet."),
    ("What is holding you back from offering delivery?", "How do you feel about commission fees on delivery orders?"),
    ("I hear you, running a restaurant is hard enough already.", "What matters most to you?"),
    ("We cap the commission at fifteen percent for new partners.", "Shall we get you started today?"),
]


def _run(vectorization_mode, **kwargs):
    envs = gym.make_vec("ProactiveSales-v0", num_envs=2, vectorization_mode=vectorization_mode, **kwargs)
    try:
        steps = [envs.reset(seed=[5, 6])]
        steps += [envs.step(actions) for actions in SCRIPT]
    finally:
        envs.close()
    return steps


def test_sync_and_async_return_the_same_strings():
    sync = _run("sync")
    async_ = _run("async", vector_kwargs={"shared_memory": False})
    for (obs_s, *rest_s), (obs_a, *rest_a) in zip(sync, async_, strict=True):
        assert isinstance(obs_a, tuple) and all(o.startswith("### Call brief") for o in obs_a)
        assert obs_s == obs_a
        for a, b in zip(rest_s[:-1], rest_a[:-1], strict=True):
            np.testing.assert_array_equal(a, b)
        assert rest_s[-1]["outcome"].tolist() == rest_a[-1]["outcome"].tolist()
    assert obs_s[0] != obs_s[1]


def test_dialogue_acts_vectorize_with_shared_memory():
    kwargs = {"num_envs": 2, "wrappers": [DialogueActs]}
    sync = gym.make_vec("ProactiveSales-v0", vectorization_mode="sync", **kwargs)
    async_ = gym.make_vec("ProactiveSales-v0", vectorization_mode="async", **kwargs)
    try:
        a, _ = sync.reset(seed=[1, 2])
        b, _ = async_.reset(seed=[1, 2])
        np.testing.assert_array_equal(a, b)
        for actions in ([0, 1], [1, 7], [2, 2]):
            a, ra, *_ = sync.step(np.array(actions))
            b, rb, *_ = async_.step(np.array(actions))
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(ra, rb)
    finally:
        sync.close()
        async_.close()
