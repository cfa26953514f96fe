"""``DialogueActs``: the ProactiveSales env as a classic-RL problem (discrete acts, feature vector)."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import RecordConstructorArgs

from ptod_env import MAX_TURNS
from ptod_env.agents import UserLineReader, concern_prior
from ptod_env.dynamics import CONCERN_STATUSES
from ptod_env.scenario import DISCLOSURES, ScenarioPack
from ptod_env.speech import line_fields
from ptod_env.views import last_user_line, parse_brief

__all__ = ["UNTARGETED_ACTS", "DialogueActs", "privileged_features"]

UNTARGETED_ACTS = ("greet", "probe_open", "empathize", "pitch", "small_talk", "close")
"""Acts without a topic, each spoken with the pack's ``agent_lines`` of that name."""


class DialogueActs(gym.Wrapper[np.ndarray, np.int64, str, str], RecordConstructorArgs):
    """A ``Discrete`` action space over the pack's canonical acts and a ``Box`` of conversation features.

    **Actions** (``action_names`` lists them): ``greet``, ``probe_open``, ``empathize``,
    ``pitch``, ``small_talk``, ``close``, then ``probe:<concern>`` and ``address:<concern>`` for
    every concern of the pack. Each is spoken as a sentence of the pack: the ``agent_lines`` of
    that name, a concern's ``probes`` or ``answers``. Repeated uses of an action walk through its
    sentences in order, so saying one more often than the pack has sentences for it is a
    ``repeat``, with the consequences the story gives it. ``info["utterance"]`` holds the
    sentence said.

    **Observation** (float32 in [0, 1], ``feature_names`` names each entry), only what the
    conversation shows: the share of the turn cap used; the user's last act as guessed from the
    words (:class:`ptod_env.agents.UserLineReader`, one-hot over the pack's user acts plus
    ``unknown``); per concern, how likely the brief makes it (its rank in
    :func:`ptod_env.agents.concern_prior`), whether the user has mentioned it, mentions it in the
    last line, has said it is settled, and how often the agent probed and addressed it; per action,
    the share of its sentences already used. ``privileged=True`` appends, per concern of the pack,
    what ``info`` alone knows: whether this user holds it, its severity, its disclosure level and
    its status (one-hots), the asymmetric view for classic RL.

    Example:
        >>> import gymnasium as gym
        >>> import ptod_env
        >>> from wrappers import DialogueActs
        >>> env = DialogueActs(gym.make("ProactiveSales-v0"))
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape == env.observation_space.shape
        True
        >>> env.action_names[:3]
        ('greet', 'probe_open', 'empathize')
        >>> obs, reward, terminated, truncated, info = env.step(env.action_names.index("probe_open"))
        >>> info["agent_acts"]
        [{'act': 'probe_open', 'topic': None, 'quality': None}]
    """

    def __init__(self, env: gym.Env[str, str], privileged: bool = False, max_turns: int | None = None):
        """Wrap a ProactiveSales env (text observation and action).

        Args:
            env: the env to wrap.
            privileged: append the hidden-concern features read from ``info``.
            max_turns: the turn cap the turn feature is scaled by; defaults to the env spec's
                ``max_episode_steps`` (or :data:`ptod_env.MAX_TURNS`).
        """
        if not isinstance(env, gym.Env) or not isinstance(env.action_space, spaces.Text):
            raise ValueError(f"DialogueActs wraps a ProactiveSales env with a text action space, got {env!r:.80}")
        if not isinstance(privileged, bool):
            raise TypeError(f"privileged must be a bool, got {privileged!r}")
        if max_turns is None:
            max_turns = (env.spec.max_episode_steps if env.spec is not None else None) or MAX_TURNS
        if isinstance(max_turns, bool) or not isinstance(max_turns, int) or max_turns < 1:
            raise ValueError(f"max_turns must be a positive int, got {max_turns!r}")
        RecordConstructorArgs.__init__(self, privileged=privileged, max_turns=max_turns)
        gym.Wrapper.__init__(self, env)
        self.privileged = privileged
        self.max_turns = max_turns
        self.pack: ScenarioPack = env.get_wrapper_attr("pack")
        ids = self.pack.concern_ids
        self.action_names: tuple[str, ...] = (
            *UNTARGETED_ACTS,
            *(f"probe:{c}" for c in ids),
            *(f"address:{c}" for c in ids),
        )
        self.sentences: tuple[tuple[str, ...], ...] = (
            *(self.pack.agent_lines[act] for act in UNTARGETED_ACTS),
            *(spec.probes for spec in self.pack.concerns),
            *(spec.answers for spec in self.pack.concerns),
        )
        self.user_acts: tuple[str, ...] = (*self.pack.templates, "unknown")
        self.feature_names: tuple[str, ...] = self._feature_names()
        self.action_space = spaces.Discrete(len(self.action_names))
        self.observation_space = spaces.Box(0.0, 1.0, shape=(len(self.feature_names),), dtype=np.float32)
        self._reader = UserLineReader(self.pack)
        self._facts: dict[str, str] = {}
        self._used = [0] * len(self.action_names)

    def _feature_names(self) -> tuple[str, ...]:
        names = ["turn", *(f"user_act:{a}" for a in self.user_acts)]
        per_concern = ("prior", "mentioned", "in_last_line", "settled", "probed", "addressed")
        names += [f"{c}:{f}" for c in self.pack.concern_ids for f in per_concern]
        names += [f"used:{a}" for a in self.action_names]
        if self.privileged:
            hidden = ("held", "severity", *(f"disclosure:{d}" for d in DISCLOSURES))
            hidden += tuple(f"status:{s}" for s in CONCERN_STATUSES)
            names += [f"{c}:{f}" for c in self.pack.concern_ids for f in hidden]
        return tuple(names)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        text, info = self.env.reset(seed=seed, options=options)
        self._facts = parse_brief(self.pack, text)
        prior = concern_prior(self.pack, self._facts)
        self._prior = {cid: 1.0 - rank / max(len(prior) - 1, 1) for rank, cid in enumerate(prior)}
        self._turn = 0
        self._used = [0] * len(self.action_names)
        self._mentioned: set[str] = set()
        self._settled: set[str] = set()
        self._read(text)
        return self._features(info), info

    def step(self, action: int | np.integer) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        if isinstance(action, bool | np.bool_):
            raise TypeError(f"action must be an int index into action_names, not a bool ({action!r})")
        if not self.action_space.contains(action):
            raise ValueError(f"action must be an int in [0, {self.action_space.n}), got {action!r}")
        utterance = self.sentence(int(action))
        text, reward, terminated, truncated, info = self.env.step(utterance)
        self._used[int(action)] += 1
        self._turn += 1
        info["utterance"] = utterance
        self._read(text)
        return self._features(info), reward, terminated, truncated, info

    def sentence(self, action: int) -> str:
        """The sentence ``action`` is spoken as next (the persona's name filled in from the brief)."""
        lines = self.sentences[action]
        return lines[self._used[action] % len(lines)].format(**line_fields(self.pack, self._facts.get("name", "there")))

    def _read(self, text: str) -> None:
        self._last_act, self._last_topics = self._reader.read(last_user_line(text))
        self._mentioned.update(self._last_topics)
        if self._last_act == "resolved":
            self._settled.update(self._last_topics)

    def _features(self, info: dict[str, Any]) -> np.ndarray:
        n = len(self.pack.concern_ids)
        used = [min(1.0, k / len(lines)) for k, lines in zip(self._used, self.sentences, strict=True)]
        values = [min(1.0, self._turn / self.max_turns)]
        values += [float(a == self._last_act) for a in self.user_acts]
        for i, cid in enumerate(self.pack.concern_ids):
            probed, addressed = self._used[len(UNTARGETED_ACTS) + i], self._used[len(UNTARGETED_ACTS) + n + i]
            values += [
                self._prior[cid],
                float(cid in self._mentioned),
                float(cid in self._last_topics),
                float(cid in self._settled),
                min(1.0, probed / 2),
                min(1.0, addressed / 2),
            ]
        values += used
        if self.privileged:
            values += privileged_features(self.pack, info["concerns"])
        return np.asarray(values, dtype=np.float32)


def privileged_features(pack: ScenarioPack, concerns: list[dict[str, Any]]) -> list[float]:
    """The privileged block of :class:`DialogueActs` for a list of concerns (``info["concerns"]``
    entries: ``id``, ``severity``, ``disclosure``, ``status``): per concern of the pack, whether it
    is listed, its severity (scaled by the pack's largest), its disclosure and status one-hots.
    Learners call it with other lists too (the shuffled-concerns ablation)."""
    severity_max = max(v for spec in pack.concerns for v in spec.severity.choices)
    held = {c["id"]: c for c in concerns}
    values: list[float] = []
    for cid in pack.concern_ids:
        concern = held.get(cid)
        if concern is None:
            values += [0.0] * (2 + len(DISCLOSURES) + len(CONCERN_STATUSES))
            continue
        values += [1.0, concern["severity"] / severity_max]
        values += [float(concern["disclosure"] == d) for d in DISCLOSURES]
        values += [float(concern["status"] == s) for s in CONCERN_STATUSES]
    return values
