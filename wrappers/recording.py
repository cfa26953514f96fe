"""``RecordEpisodes``: one durable JSON line per finished episode."""

from __future__ import annotations

import os
from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium import spaces
from gymnasium.utils import RecordConstructorArgs

from ptod_env.records import EpisodeBuilder, EpisodeWriter, read_episodes

__all__ = ["RecordEpisodes", "read_episodes"]


class RecordEpisodes(gym.Wrapper[str, str, str, str], RecordConstructorArgs):
    """Appends one JSON line per finished episode to ``path``: the transcript turn by turn,
    the persona, its concerns, every transition, the outcome and the return.

    Records are built and written by :mod:`ptod_env.records` (the format ``ptod rollout --record``
    writes too) and flushed and fsynced per episode, so a killed process loses at most the
    episode in flight. An episode cut short by ``reset()`` before it ended is not written. Any
    ``str`` action is recorded, lone surrogates included (written as JSON ``\\ud800`` escapes,
    read back unchanged), so no utterance can lose an episode.
    Read a file back with :func:`read_episodes`, which skips a torn last line with a warning.

    Wrap the text env, below any wrapper that changes the action, so the record holds the words
    that were said.

    Example:
        >>> import tempfile, gymnasium as gym
        >>> import ptod_env
        >>> from wrappers import RecordEpisodes, read_episodes
        >>> path = tempfile.mkdtemp() + "/episodes.jsonl"
        >>> env = RecordEpisodes(gym.make("ProactiveSales-v0", max_episode_steps=2), path, agent="doc")
        >>> _ = env.reset(seed=0)
        >>> _ = env.step("Hello, this is Alex from FeastFleet.")
        >>> _ = env.step("What is holding you back from offering delivery?")
        >>> env.close()
        >>> [(len(r["turns"]), r["outcome"]) for r in read_episodes(path)]
        [(2, 'timeout')]
    """

    def __init__(self, env: gym.Env[str, str], path: str | os.PathLike[str], agent: str | None = None, mode: str = "a"):
        """Wrap a ProactiveSales env (text action).

        Args:
            env: the env to wrap.
            path: the JSONL file (parent folders are created).
            agent: a name stored in each record's ``agent`` field.
            mode: ``"a"`` appends to an existing file, ``"w"`` starts it afresh.
        """
        if not isinstance(env, gym.Env) or not isinstance(env.action_space, spaces.Text):
            raise ValueError(
                f"RecordEpisodes wraps an env with a text action space (put it below DialogueActs), got {env!r:.80}"
            )
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}: {path!r:.80}")
        if agent is not None and not isinstance(agent, str):
            raise TypeError(f"agent must be a str or None, got {agent!r}")
        RecordConstructorArgs.__init__(self, path=path, agent=agent, mode=mode)
        gym.Wrapper.__init__(self, env)
        self.agent = agent
        self.domain = env.get_wrapper_attr("pack").name
        self.writer = EpisodeWriter(path, mode=mode)
        self._episode: EpisodeBuilder | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._episode = EpisodeBuilder(obs, info, domain=self.domain, seed=seed, agent=self.agent)
        return obs, info

    def step(self, action: str) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self._episode is not None:
            self._episode.add(action, obs, float(reward), info)
            if terminated or truncated:
                self.writer.write(self._episode.record)
                self._episode = None
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        self.writer.close()
        super().close()
