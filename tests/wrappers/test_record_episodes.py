import json

import gymnasium as gym
import pytest

import ptod_env  # noqa: F401 - registers the ids
from ptod_env.agents import make_agent
from ptod_env.evaluation import run_episode
from wrappers import DialogueActs, RecordEpisodes, read_episodes


def _play(env, seed):
    agent = make_agent("proactive", env.get_wrapper_attr("pack"), seed)
    return run_episode(env, agent, seed=seed)


def test_round_trip(tmp_path):
    path = tmp_path / "runs" / "episodes.jsonl"
    env = RecordEpisodes(gym.make("ProactiveSales-v0"), path, agent="proactive", mode="w")
    played = [_play(env, seed) for seed in range(3)]
    env.close()
    loaded = read_episodes(path)
    assert len(loaded) == 3
    for mine, rec in zip(played, loaded, strict=True):
        assert rec["agent"] == "proactive" and rec["domain"] == "merchant_recruitment"
        assert [t["action"] for t in rec["turns"]] == [t["action"] for t in mine["turns"]]
        assert [t["transition"] for t in rec["turns"]] == [t["transition"] for t in mine["turns"]]
        assert rec["outcome"] == mine["outcome"] and rec["outcome"] is not None
        assert rec["concerns"] == mine["concerns"] and rec["persona"] == mine["persona"]
        assert rec["final_observation"] == mine["final_observation"]


def test_each_episode_is_on_disk_when_it_ends(tmp_path):
    path = tmp_path / "episodes.jsonl"
    env = RecordEpisodes(gym.make("ProactiveSales-v0"), path)
    _play(env, 0)
    assert len(read_episodes(path)) == 1  # written before close()
    env.reset(seed=1)
    env.step("Hello, this is Alex from FeastFleet.")
    assert len(read_episodes(path)) == 1  # the episode in flight is not
    env.close()


def test_torn_last_line_is_skipped_with_a_warning(tmp_path):
    path = tmp_path / "episodes.jsonl"
    env = RecordEpisodes(gym.make("ProactiveSales-v0"), path)
    for seed in range(2):
        _play(env, seed)
    env.close()
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 40], encoding="utf-8")
    with pytest.warns(RuntimeWarning, match="torn last line"):
        assert len(read_episodes(path)) == 1
    # Anywhere else a bad line is an error, never skipped silently.
    path.write_text("{not json\n" + text, encoding="utf-8")
    with pytest.raises(ValueError, match=":1: not a JSON episode record"):
        read_episodes(path)


def test_appends_by_default(tmp_path):
    path = tmp_path / "episodes.jsonl"
    path.write_text(json.dumps({"turns": [], "outcome": None}) + "\n", encoding="utf-8")
    env = RecordEpisodes(gym.make("ProactiveSales-v0"), path)
    _play(env, 0)
    env.close()
    assert len(read_episodes(path)) == 2


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"mode must be 'a' .* got 'x'"):
        RecordEpisodes(gym.make("ProactiveSales-v0"), tmp_path / "e.jsonl", mode="x")
    with pytest.raises(TypeError, match=r"path must be a str or os\.PathLike, got int"):
        RecordEpisodes(gym.make("ProactiveSales-v0"), 3)
    with pytest.raises(TypeError, match="agent must be a str or None, got 5"):
        RecordEpisodes(gym.make("ProactiveSales-v0"), tmp_path / "e.jsonl", agent=5)
    with pytest.raises(ValueError, match="below DialogueActs"):
        RecordEpisodes(DialogueActs(gym.make("ProactiveSales-v0")), tmp_path / "e.jsonl")


@pytest.mark.parametrize("odd", ["\ud800", "lone \udfff surrogate", "\ud83d\ude00 split pair", "ｆｕｌｌ 🙂 \x00"])
def test_no_utterance_loses_the_episode(tmp_path, odd):
    path = tmp_path / "odd.jsonl"
    env = RecordEpisodes(gym.make("ProactiveSales-v0", max_episode_steps=2), path, mode="w")
    env.reset(seed=0)
    env.step(odd)
    *_, terminated, truncated, info = env.step("Hello, " + odd)
    env.close()
    assert (terminated or truncated) and info["outcome"] is not None
    path.read_bytes().decode("utf-8")  # the file stays valid UTF-8
    (record,) = read_episodes(path)
    said = [t["action"] for t in record["turns"]]
    # Lone surrogates come back as they were said; a pair split in two code units comes back as
    # the character it encodes.
    assert said == [json.loads(json.dumps(text)) for text in (odd, "Hello, " + odd)]
    assert said[0] == odd or odd.startswith("\ud83d\ude00")
