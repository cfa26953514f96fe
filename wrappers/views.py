"""Observation views: the teacher (privileged) prompt and the Hugging Face chat format.

* ``PrivilegedView`` - the observation plus the block listing the user's hidden concerns
* ``ChatMessages`` - the observation as ``{"role", "content"}`` chat messages
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium import spaces
from gymnasium.utils import RecordConstructorArgs

from ptod_env.views import AGENT, CHARSET, USER, concern_block_max_chars, split_observation, teacher_view

__all__ = ["DEFAULT_SYSTEM_PROMPT", "ChatMessages", "PrivilegedView"]

DEFAULT_SYSTEM_PROMPT = (
    "You are a salesperson on an outbound phone call. Find out what holds the customer back, "
    "address it honestly, and ask for the sign-up only when they are ready. Reply with your next line only."
)
Message = dict[str, str]


def _require_text_env(env: gym.Env, wrapper: str) -> None:
    if not isinstance(env, gym.Env):
        raise TypeError(f"{wrapper} wraps a gymnasium.Env, got {type(env).__name__}: {env!r:.80}")
    if not isinstance(env.observation_space, spaces.Text):
        raise ValueError(
            f"{wrapper} needs the text observation of a ProactiveSales env, got observation_space "
            f"{env.observation_space}; apply it before wrappers that change the observation"
        )


class PrivilegedView(gym.Wrapper[str, str, str, str], RecordConstructorArgs):
    """The teacher view: each observation gets the block listing the user's hidden concerns.

    The block is built from ``info["concerns"]`` with :func:`ptod_env.views.teacher_view`, the
    same function the learners call, so a student prompt and its teacher prompt differ in that
    block only. With ``statuses=True`` each line also says how far the concern has come
    (``latent`` ... ``resolved``), from ``info["state"]["concerns"]``.

    Example:
        >>> import gymnasium as gym
        >>> import ptod_env
        >>> from wrappers import PrivilegedView
        >>> env = PrivilegedView(gym.make("ProactiveSales-v0"), statuses=True)
        >>> obs, info = env.reset(seed=0)
        >>> "### Hidden concerns (privileged)" in obs
        True
        >>> all(f"[status: {c['status']}]" in obs for c in info["concerns"])
        True
    """

    def __init__(self, env: gym.Env[str, str], statuses: bool = False):
        """Wrap a ProactiveSales env (text observation).

        Args:
            env: the env to wrap; its observation must still be the env's text.
            statuses: also show each concern's current status.
        """
        _require_text_env(env, "PrivilegedView")
        if not isinstance(statuses, bool):
            raise TypeError(f"statuses must be a bool, got {statuses!r}")
        RecordConstructorArgs.__init__(self, statuses=statuses)
        gym.Wrapper.__init__(self, env)
        self.statuses = statuses
        inner = env.observation_space
        bound = inner.max_length + concern_block_max_chars(env.get_wrapper_attr("pack"))
        self.observation_space = spaces.Text(max_length=bound, min_length=inner.min_length, charset=CHARSET)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        return self._teacher(obs, info), info

    def step(self, action: str) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._teacher(obs, info), reward, terminated, truncated, info

    def _teacher(self, obs: str, info: dict[str, Any]) -> str:
        return teacher_view(obs, info["concerns"], info["state"]["concerns"] if self.statuses else None)


class ChatMessages(gym.Wrapper[tuple[Message, ...], str | Message, str, str], RecordConstructorArgs):
    """The observation as chat messages in the Hugging Face format, for ``apply_chat_template``.

    The observation becomes a tuple of ``{"role": ..., "content": ...}`` dicts: a ``system``
    message (``system_prompt``), then the conversation with the user's lines as ``user`` and the
    agent's as ``assistant`` messages. The call brief (and, over :class:`PrivilegedView`, the
    concern block) goes at the end of the system message (``brief_in="system"``) or at the top of
    the first user message (``brief_in="user"``, for chat templates without a system role), so the
    roles always alternate user/assistant. The action may be a string or an assistant message
    dict. The observation is a tuple because ``gymnasium.spaces.Sequence`` holds tuples; pass
    ``list(obs)`` where a list is required.

    Example:
        >>> import gymnasium as gym
        >>> import ptod_env
        >>> from wrappers import ChatMessages
        >>> env = ChatMessages(gym.make("ProactiveSales-v0"), system_prompt="You sell delivery.")
        >>> messages, info = env.reset(seed=0)
        >>> [m["role"] for m in messages]
        ['system', 'user']
        >>> messages, *_ = env.step({"role": "assistant", "content": "Hello, how are you today?"})
        >>> [m["role"] for m in messages]
        ['system', 'user', 'assistant', 'user']
    """

    def __init__(self, env: gym.Env[str, str], system_prompt: str = DEFAULT_SYSTEM_PROMPT, brief_in: str = "system"):
        """Wrap a ProactiveSales env (text observation).

        Args:
            env: the env to wrap; its observation must still be text.
            system_prompt: the system message's instructions.
            brief_in: ``"system"`` or ``"user"``: where the call brief goes.
        """
        _require_text_env(env, "ChatMessages")
        if not isinstance(system_prompt, str):
            raise TypeError(f"system_prompt must be a str, got {type(system_prompt).__name__}: {system_prompt!r:.80}")
        if brief_in not in ("system", "user"):
            raise ValueError(f"brief_in must be 'system' or 'user', got {brief_in!r}")
        RecordConstructorArgs.__init__(self, system_prompt=system_prompt, brief_in=brief_in)
        gym.Wrapper.__init__(self, env)
        self.system_prompt = system_prompt
        self.brief_in = brief_in
        content = spaces.Text(
            max_length=env.observation_space.max_length + len(system_prompt) + 2, min_length=0, charset=CHARSET
        )
        roles = spaces.Text(max_length=9, min_length=4, charset="abcdeginmrstuy")
        self.observation_space = spaces.Sequence(spaces.Dict({"role": roles, "content": content}))

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[tuple[Message, ...], dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        return self.messages(obs), info

    def step(self, action: str | Message) -> tuple[tuple[Message, ...], SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(self.utterance(action))
        return self.messages(obs), reward, terminated, truncated, info

    def messages(self, observation: str) -> tuple[Message, ...]:
        """The chat messages for one text observation."""
        head, turns = split_observation(observation)
        roles = {USER: "user", AGENT: "assistant"}
        chat = [{"role": roles[speaker], "content": text} for speaker, text in turns]
        if self.brief_in == "system":
            system = f"{self.system_prompt}\n\n{head}" if self.system_prompt else head
        else:
            system = self.system_prompt
            chat[0]["content"] = f"{head}\n\n{chat[0]['content']}"
        return ({"role": "system", "content": system}, *chat) if system else tuple(chat)

    @staticmethod
    def utterance(action: str | Message) -> str:
        """The text of an action given as a string or as an assistant message dict."""
        if isinstance(action, str):
            return action
        if isinstance(action, dict) and action.get("role") == "assistant" and isinstance(action.get("content"), str):
            return action["content"]
        raise TypeError(
            "action must be a str or an assistant message {'role': 'assistant', 'content': str}, "
            f"got {type(action).__name__}: {action!r:.80}"
        )
