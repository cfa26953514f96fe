"""The ``ProactiveSales`` Gymnasium environment."""

from __future__ import annotations

import math
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import RecordConstructorArgs

from ptod_env.acts import AgentAct, UserAct
from ptod_env.dynamics import TERMINAL_STAGES, UserState, initial_state, transition
from ptod_env.persona import Persona, sample_persona, split_range
from ptod_env.quality import judge
from ptod_env.scenario import ScenarioPack, load_scenario
from ptod_env.speech import Speech, make_speech
from ptod_env.understanding import DEFAULT_UNDERSTANDING, Understanding, make_understanding
from ptod_env.views import (
    AGENT,
    CHARSET,
    USER,
    observation_head,
    render_brief,
    render_observation,
    sanitize,
    transcript_line,
)

MAX_ACTION_CHARS = 2000
MAX_OBSERVATION_CHARS = 32768
RESET_OPTIONS = frozenset({"persona_index", "persona"})
_ANSWER_PHONE = UserAct("answer_phone")


class EpisodeOverError(RuntimeError):
    """``step()`` was called after the call ended; call ``reset()`` first."""


class TurnOrderError(RuntimeError):
    """:meth:`ProactiveSalesEnv.decide` and :meth:`~ProactiveSalesEnv.speak` were not alternated."""


class _Decision(NamedTuple):
    before: UserState
    events: list[dict[str, Any]]
    agent_acts: list[AgentAct]
    user_act: UserAct
    reply: str


def concern_records(persona: Persona, state: UserState) -> list[dict[str, Any]]:
    """Fresh dicts of the persona's concerns with their current status (``info["concerns"]``)."""
    fields = persona._concern_fields
    return [{**concern, "status": status} for concern, status in zip(fields, state.statuses, strict=True)]


class ProactiveSalesEnv(gym.Env[str, str]):
    """
    ## Description

    An outbound sales call as a text environment. The agent is the salesperson; a Cognitive User
    Simulator plays the customer, a stratified persona with public background and traits and 1-3
    hidden concerns. The agent must find out what really holds the user back, resolve it and get
    a "yes" within a few turns. Each step: understanding maps the agent's text to dialogue acts,
    the cognitive state machine (:mod:`ptod_env.dynamics`) decides, and speech renders the user's
    reply in the persona's style.

    ## Action Space

    ``Text(max_length=2000)`` over :data:`ptod_env.views.CHARSET`: the agent's next utterance.
    Any ``str`` is a legal move: empty, huge, gibberish, repeated or manipulative text is
    understood as such an act and has consequences in the story. A non-``str`` action raises
    ``TypeError``.

    ## Observation Space

    ``Text(max_length=32768)`` over the same charset: the deployable view, the call brief (public
    persona facts and observable traits) followed by the transcript so far. Agent utterances are
    shown sanitised (non-charset characters become ``?``, cut at 600 characters).

    ## Rewards

    ``accept_reward`` (default 1.0) on the step the user accepts, 0.0 otherwise. Dense shaping
    lives in ``wrappers.StateTransitionReward``.

    ## Starting State

    A user is drawn uniformly from the chosen split (``train`` or ``test``, disjoint users) with
    ``self.np_random``, or named by ``reset(options={"persona_index": i})`` or
    ``options={"persona": persona}`` (one of the two; a persona of this domain and split). Other
    options raise ``TypeError`` (wrong type) or ``ValueError`` (wrong value). The user answers
    the phone.

    ## Episode End

    ``terminated`` when the user accepts, rejects (trust gone or too many failed closes) or hangs
    up (patience gone). The turn cap is a ``TimeLimit`` truncation (``max_episode_steps``, 14 by
    default), after which ``info["outcome"]`` is ``"timeout"``. Stepping after either end raises
    ``EpisodeOverError``; call ``reset()``.

    ## Hidden State

    ``info`` (built fresh each step) reveals what the observation does not:
    ``turn``; ``persona`` (background, traits, index, split); ``concerns`` (``id``, ``label``,
    ``description``, ``severity``, ``disclosure``, current ``status``); ``state`` (``stage``,
    ``trust``, ``patience``, ``failed_closes``, per-concern status); ``transition``
    (``before``, ``after``, ``events``); ``agent_acts`` (what understanding made of the action: each
    act's ``act``, ``topic`` and ``quality``, the judgement of :mod:`ptod_env.quality`);
    ``user_act``; ``outcome`` (None until the end, then ``accepted`` | ``rejected`` |
    ``hung_up`` | ``timeout``); ``backends`` (each backend's class name and counters, such as
    an LLM backend's retries and fallbacks). None of it appears in the observation unless the user said it.

    ## Arguments

    ``gym.make("ProactiveSales-v0", domain="merchant_recruitment", scenario=None, split="train",
    understanding="natural", speech="template", understanding_kwargs=None, speech_kwargs=None,
    accept_reward=1.0, render_mode=None)``. ``scenario`` (a path or a ``ScenarioPack``) overrides
    ``domain``. ``accept_reward`` is a finite number >= 0. ``understanding`` is ``"natural"``
    (reads natural English, no model at run time), ``"lexical"`` (the pack's phrases only),
    ``"embedding"`` or ``"llm"`` (docs/understanding.md). ``render_mode`` is ``"ansi"``
    (``render()`` returns the transcript) or ``"human"`` (prints it).

    ## Version History

    * v0: initial release.
    * v0 (issue 8, same id): substance, not formula. Every act carries a ``quality`` judged from
      the words and the conversation (:mod:`ptod_env.quality`), whatever the understanding backend.
      Only a substantive answer addresses or resolves a concern (a mention, acknowledgement,
      refusal, generic filler or the user's own words echoed back draw a follow-up and cost trust
      and patience); a topical pitch is an answer only when substantive; empathy pays when it
      answers something the user said, at most ``paid_empathies`` times, costs when it answers
      nothing or repeats a formula; an untargeted offer pays once and only with a figure on it,
      otherwise it is a pitch; each pitch past the free one costs more than the last. A probe on
      a concern the user still hides draws the same denial as from a user without it, except
      with chance ``hidden_probe_tell * trust / deep_hint_trust``; users without the concern
      sometimes hedge (``evasive_probe_chance``); a guarded concern's holder sometimes denies
      while trust is low (``guarded_probe_deflect``). Asking again about what the user already
      said earns nothing; an answer to a concern the user never raised does not settle it on its
      own; answering a concern the user does not hold, or keeps deep, costs trust and patience
      alike; small talk pays a chatty user ``paid_small_talks`` times. ``UserState`` gained
      ``empathies``, ``small_talks`` and ``offered``; ``Rules`` gained the parameters named here.
      Empathy past ``paid_empathies`` costs like a repeated formula, however it is worded. The
      default understanding is ``"natural"`` (reads natural English; ``"lexical"`` stays
      selectable), and text is NFKC-normalised with invisible characters removed before reading.
    * v0 (issue 9, same id): stepping after a ``TimeLimit`` truncation raises ``EpisodeOverError``
      like stepping after a termination; ``reset`` options and ``accept_reward`` are checked
      (a ``TypeError`` or ``ValueError`` that names the fix).
    * v0 (issue 8, third red-team round, same id): the quality judge reads generic commitments
      ("we take care of", "our team handles", "you get it sorted", "no hassle", "100% covered")
      as no giving construction, and a concern's words in a bare list, right after its keyword,
      or alone without a word the pack keeps it with as not specific; dynamics unchanged.
    * v0 (issue 8, fourth red-team round, same id): an answer to a guarded concern the user has not
      shared draws a hint only as often as a targeted probe on it would; otherwise (chance
      ``guarded_probe_deflect * (1 - trust / guarded_voice_trust)``) the user brushes it off
      exactly as a user without the concern does (``not_relevant``, the same trust and patience),
      so an answer said unasked no longer reads a guarded concern with certainty.
    * v0 (issue 8, reader rounds 2-3, same id): the default ``"natural"`` reader is trained on five
      writers' DEV lines and reads topics with a per-pack concern classifier (fitted on first use,
      once per process and pack); a false claim that the user already agreed ("You've already
      agreed, so let's finalise") is ``manipulation``; keyword stuffing is a keyword 3+ times in
      one sentence or at a density of one word in ten, or keywords making up most of the message;
      asking the user to repeat is small talk.
    * v0 (issue 8, reader rounds 4-5, same id): the reader is trained on eleven writers' DEV lines,
      and the shipped packs' concern classifiers are stored, not fitted at start-up; a sentence's
      clauses ("... and ...") can each name a concern; topics blend the classifier with the
      nearest phrasing lines, and an unsure targeted probe takes a topic rather than none; an
      answer that says no keyword needs a clearer score; ``topic_dump`` counts, per clause, the
      concerns the reader keeps among the keywords said (common words such as "app" or "shift"
      no longer make a natural answer a dump). Dynamics: a greeting after the first one is idle
      talk and costs as small talk does (it was free).
    * v0 (issue 8, reader round 6, same id): a targeted probe that names no concern itself ("...,
      I know. Is that what's worrying you?") asks about the message: its one keyword concern, else
      what it and the sentence before it say together; a question that the next sentence answers
      on its own ("Worried about the cut? It's 12%, flat.") is part of the answer, not also a
      probe. Dynamics unchanged.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "human"], "render_fps": 1}

    def __init__(
        self,
        domain: str = "merchant_recruitment",
        scenario: str | Path | ScenarioPack | None = None,
        split: str = "train",
        understanding: str | Understanding = DEFAULT_UNDERSTANDING,
        speech: str | Speech = "template",
        understanding_kwargs: dict[str, Any] | None = None,
        speech_kwargs: dict[str, Any] | None = None,
        accept_reward: float = 1.0,
        render_mode: str | None = None,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        if isinstance(accept_reward, bool | np.bool_) or not isinstance(accept_reward, Real):
            raise TypeError(
                f"accept_reward must be a number, got {type(accept_reward).__name__}: {accept_reward!r:.80}"
            )
        if not math.isfinite(accept_reward) or accept_reward < 0:
            raise ValueError(f"accept_reward must be a finite number >= 0 (default 1.0), got {accept_reward!r}")
        self._split_range = split_range(split)
        self.pack = scenario if isinstance(scenario, ScenarioPack) else load_scenario(scenario or domain)
        self.split = split
        self.understanding = make_understanding(understanding, self.pack, **(understanding_kwargs or {}))
        self.speech = make_speech(speech, self.pack, **(speech_kwargs or {}))
        self.accept_reward = float(accept_reward)
        self.render_mode = render_mode
        self.action_space = spaces.Text(max_length=MAX_ACTION_CHARS, min_length=0, charset=CHARSET)
        self.observation_space = spaces.Text(max_length=MAX_OBSERVATION_CHARS, min_length=1, charset=CHARSET)
        self.persona: Persona | None = None
        self.state: UserState | None = None
        self._brief = ""
        self._head = ""
        self._turns: list[tuple[str, str]] = []
        # The transcript as the observation shows it, grown one line a turn rather than rebuilt.
        self._conversation = ""
        self._agent_history: list[str] = []
        self._decision: _Decision | None = None
        self._timed_out = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        persona = self._persona_for(options)
        self.persona = persona
        self.state = initial_state(persona, self.pack.rules)
        self._brief = render_brief(self.pack, persona)
        self._head = observation_head(self._brief)
        self._agent_history = []
        self._decision = None
        self._timed_out = False
        opening = self.speech.render(_ANSWER_PHONE, persona, self.state, self.np_random)
        self._turns, self._conversation = [], ""
        self._say(USER, opening)
        info = self._info(self.state, [], [], _ANSWER_PHONE.as_dict(), outcome=None)
        if self.render_mode == "human":
            self.render()
        return self.observation(), info

    def _persona_for(self, options: Any) -> Persona:
        """The user ``reset(options=...)`` names, or one drawn from the split with ``self.np_random``."""
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise TypeError(
                f"reset options must be a dict with keys {sorted(RESET_OPTIONS)} (or None), "
                f"got {type(options).__name__}: {options!r:.80}"
            )
        unknown = set(options) - RESET_OPTIONS
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown, key=repr)}; supported: {sorted(RESET_OPTIONS)}")
        if len(options) > 1:
            raise ValueError("pass either options['persona'] or options['persona_index'], not both")
        low, high = self._split_range
        if "persona" in options:
            persona = options["persona"]
            if not isinstance(persona, Persona):
                raise TypeError(f"options['persona'] must be a Persona, got {type(persona).__name__}: {persona!r:.80}")
            if persona.domain != self.pack.name:
                raise ValueError(f"options['persona'] is a {persona.domain!r} user; this env plays {self.pack.name!r}")
            if persona.split != self.split:
                raise ValueError(
                    f"options['persona'] is a {persona.split}-split user (index {persona.index}); this env plays the "
                    f"{self.split!r} split: make the env with split={persona.split!r} or pick a user in [{low}, {high})"
                )
            return persona
        index = options.get("persona_index", low + int(self.np_random.integers(high - low)))
        if isinstance(index, bool | np.bool_) or not isinstance(index, Integral):
            raise TypeError(f"options['persona_index'] must be an int, got {type(index).__name__}: {index!r:.80}")
        if not low <= index < high:
            raise ValueError(f"persona_index must be an int in [{low}, {high}) for split {self.split!r}, got {index!r}")
        return sample_persona(self.pack, int(index))

    def time_out(self) -> None:
        """End the call at the turn cap: a further :meth:`step` raises :class:`EpisodeOverError`
        until :meth:`reset`. :class:`TimeoutOutcome` calls this when ``TimeLimit`` truncates."""
        self._timed_out = True

    def step(self, action: str) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        self.decide(action)
        return self.speak()

    def decide(self, action: str) -> tuple[UserAct, str]:
        """The first half of :meth:`step`: understand the agent's utterance, let the state machine
        decide, and have the speech backend propose the user's reply.

        Returns ``(user_act, proposed_reply)``. Nothing is shown until :meth:`speak`, which lets a
        multi-agent setting (``ptod_env.multiagent``) have another customer say the words.
        """
        if self.state is None or self.persona is None:
            raise EpisodeOverError("call reset() before step()")
        if self._decision is not None:
            raise TurnOrderError("decide() was already called this turn; call speak() first")
        if self._timed_out:
            raise EpisodeOverError("the call already ended (timeout: the turn cap was reached); call reset()")
        if self.state.stage in TERMINAL_STAGES:
            raise EpisodeOverError(f"the call already ended ({self.state.stage}); call reset() to start a new one")
        if not isinstance(action, str):
            raise TypeError(
                f"action must be a str (the agent's utterance), got {type(action).__name__}: {action!r:.80}"
            )
        # Whatever the backend read, the quality of each act is judged the same way.
        agent_acts = judge(self.understanding.understand(action, self._agent_history), action, self._turns, self.pack)
        before = self.state
        after, events, user_act = transition(before, agent_acts, self.persona, self.np_random, self.pack.rules)
        self._say(AGENT, sanitize(action))
        reply = self.speech.render(user_act, self.persona, after, self.np_random, tuple(self._turns))
        self.state = after
        self._agent_history.append(action)
        self._decision = _Decision(before, events, agent_acts, user_act, reply)
        return user_act, reply

    def speak(self, words: str | None = None) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        """The second half of :meth:`step`: the user says ``words`` (default: the reply the speech
        backend proposed in :meth:`decide`), and the step's results come back."""
        if self._decision is None:
            raise TurnOrderError("call decide() before speak()")
        if words is not None and not isinstance(words, str):
            raise TypeError(f"words must be a str or None, got {type(words).__name__}")
        decision, self._decision = self._decision, None
        self._say(USER, sanitize(decision.reply if words is None else words))
        after = self.state
        assert after is not None
        terminated = after.stage in TERMINAL_STAGES
        reward = self.accept_reward if after.stage == "accepted" else 0.0
        info = self._info(
            decision.before,
            decision.events,
            [a.as_dict() for a in decision.agent_acts],
            decision.user_act.as_dict(),
            outcome=after.stage if terminated else None,
        )
        if self.render_mode == "human":
            self.render()
        return self.observation(), reward, terminated, False, info

    def render(self) -> str | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='ansi' or 'human' to make()")
            return None
        if self.render_mode == "human":
            print(self._conversation, end="\n\n")
            return None
        return self._conversation

    def _say(self, speaker: str, text: str) -> None:
        line = transcript_line(speaker, text)
        self._conversation = f"{self._conversation}\n{line}" if self._turns else line
        self._turns.append((speaker, text))

    @property
    def transcript(self) -> list[tuple[str, str]]:
        """The conversation so far as ``(speaker, text)`` pairs (a copy)."""
        return list(self._turns)

    def observation(self) -> str:
        """The current deployable view (what the last ``reset``/``step`` returned, plus an agent
        line already given to :meth:`decide`)."""
        obs = self._head + self._conversation
        if len(obs) <= MAX_OBSERVATION_CHARS:
            return obs
        # Only reachable with a turn cap far above the default: keep the brief and the latest turns.
        turns = list(self._turns)
        while len(obs) > MAX_OBSERVATION_CHARS and len(turns) > 1:
            turns = turns[2:]
            obs = render_observation(self._brief, [(USER, "[earlier turns omitted]"), *turns])
        return obs[-MAX_OBSERVATION_CHARS:]

    def _info(
        self,
        before: UserState,
        events: list[dict[str, Any]],
        agent_acts: list[dict[str, Any]],
        user_act: dict[str, Any],
        outcome: str | None,
    ) -> dict[str, Any]:
        persona, state = self.persona, self.state
        assert persona is not None and state is not None
        after = state.as_dict(persona)
        return {
            "turn": state.turn,
            "persona": persona.public_dict(),
            "concerns": concern_records(persona, state),
            "state": after,
            # The same view again, as its own objects: a user changing one must not change the other.
            "transition": {"before": before.as_dict(persona), "after": _copy_view(after), "events": events},
            "agent_acts": agent_acts,
            "user_act": user_act,
            "outcome": outcome,
            "backends": {"understanding": _backend_stats(self.understanding), "speech": _backend_stats(self.speech)},
        }


def _copy_view(state: dict[str, Any]) -> dict[str, Any]:
    return {**state, "concerns": dict(state["concerns"])}


def _backend_stats(backend: object) -> dict[str, Any]:
    """A backend's name and counters (calls, retries, timeouts, fallbacks...) if it keeps any:
    a backend may define ``stats() -> dict``, which must return a fresh dict."""
    stats = getattr(backend, "stats", None)
    if not callable(stats):
        return {"name": type(backend).__name__}
    return {"name": type(backend).__name__, **stats()}


class TimeoutOutcome(gym.Wrapper[str, str, str, str], RecordConstructorArgs):
    """Sets ``info["outcome"] = "timeout"`` when the ``TimeLimit`` below it truncates the call,
    and tells the env the call is over (:meth:`ProactiveSalesEnv.time_out`), so stepping on
    raises :class:`EpisodeOverError` as it does after a termination.

    Registered as an additional wrapper of every ProactiveSales id, so ``gym.make`` applies it
    right after ``TimeLimit`` (with any ``max_episode_steps``); the unwrapped env cannot see the
    truncation itself.
    """

    def __init__(self, env: gym.Env[str, str]):
        RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)

    def step(self, action: str) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if truncated and not terminated:
            self.env.unwrapped.time_out()
            if info.get("outcome") is None:
                info["outcome"] = "timeout"
        return obs, reward, terminated, truncated, info
