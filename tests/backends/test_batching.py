import threading
from concurrent.futures import ThreadPoolExecutor

import gymnasium as gym
import pytest

from ptod_env.agents import make_agent
from ptod_env.backends.batching import BatchingClient, play_concurrently
from ptod_env.backends.clients import ClientError


class RecordingClient:
    """Answers each conversation with its last message, recording every batch it gets."""

    def __init__(self, fail: bool = False):
        self.batches: list[list[str]] = []
        self.fail = fail
        self.lock = threading.Lock()

    def complete(self, messages, **settings):
        return self.complete_batch([messages], **settings)[0]

    def complete_batch(self, conversations, *, max_tokens=128, temperature=0.0, json_schema=None):
        with self.lock:
            self.batches.append([c[-1]["content"] for c in conversations])
        if self.fail:
            raise ClientError("the model is down")
        return [f"{c[-1]['content']}/{max_tokens}" for c in conversations]


def ask_together(client, prompts, **settings):
    with ThreadPoolExecutor(len(prompts)) as pool:
        futures = [pool.submit(client.complete, [{"role": "user", "content": p}], **settings) for p in prompts]
        return [f.result() for f in futures]


def test_concurrent_requests_become_one_batch():
    inner = RecordingClient()
    client = BatchingClient(inner, max_batch=4, max_wait_s=5.0)
    assert ask_together(client, ["a", "b", "c", "d"]) == ["a/128", "b/128", "c/128", "d/128"]
    assert len(inner.batches) == 1 and sorted(inner.batches[0]) == ["a", "b", "c", "d"]
    assert client.batch_sizes == [4]


def test_a_lone_request_waits_at_most_max_wait():
    inner = RecordingClient()
    client = BatchingClient(inner, max_batch=8, max_wait_s=0.01)
    assert client.complete([{"role": "user", "content": "x"}], max_tokens=3) == "x/3"
    assert client.batch_sizes == [1]


def test_different_settings_go_in_different_batches():
    inner = RecordingClient()
    client = BatchingClient(inner, max_batch=4, max_wait_s=0.2)
    with ThreadPoolExecutor(4) as pool:
        futures = [
            pool.submit(client.complete, [{"role": "user", "content": str(i)}], max_tokens=8 + i % 2) for i in range(4)
        ]
        replies = [f.result() for f in futures]
    assert replies == ["0/8", "1/9", "2/8", "3/9"]
    assert sorted(client.batch_sizes) == [2, 2]


def test_a_failed_batch_fails_every_caller():
    client = BatchingClient(RecordingClient(fail=True), max_batch=2, max_wait_s=1.0)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(client.complete, [{"role": "user", "content": p}]) for p in "ab"]
        for future in futures:
            with pytest.raises(ClientError):
                future.result()


@pytest.mark.parametrize("kwargs", [{"max_batch": 0}, {"max_wait_s": -1}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        BatchingClient(RecordingClient(), **kwargs)


def test_play_concurrently_does_not_depend_on_parallel():
    def run(parallel):
        return play_concurrently(
            lambda: gym.make("ProactiveSales-v0", split="test"),
            lambda pack, seed: make_agent("proactive", pack, seed),
            episodes=6,
            parallel=parallel,
        )

    serial, threaded = run(1), run(3)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in serial]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in threaded]
    assert [r["seed"] for r in threaded] == list(range(6))


def test_envs_played_concurrently_share_one_batch(merchant):
    inner = RecordingClient()
    client = BatchingClient(inner, max_batch=3, max_wait_s=5.0)
    speech_kwargs = {"client": client, "retries": 0}
    records = play_concurrently(
        lambda: gym.make(
            "ProactiveSales-v0", split="test", speech="llm", speech_kwargs=speech_kwargs, max_episode_steps=2
        ),
        lambda pack, seed: make_agent("passive", pack, seed),
        episodes=3,
        parallel=3,
    )
    assert len(records) == 3
    # reset and two steps per env, three envs in lockstep: three full batches
    assert client.batch_sizes[:3] == [3, 3, 3]
