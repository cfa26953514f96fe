"""Dialogue acts: the vocabulary shared by understanding, dynamics and speech.

Understanding turns the agent's text into :class:`AgentAct` values; the cognitive state machine
reads only those acts and answers with a :class:`UserAct`; speech renders that act as text. Every
backend (lexical, embedding, LLM) reads and writes through these types, so no backend can change
the rules of the story.
"""

from __future__ import annotations

from typing import NamedTuple

# Acts the salesperson can perform. ``probe``, ``address``, ``pitch`` and ``offer`` may carry a
# topic (a concern id of the scenario pack); the others never do.
GREET = "greet"
PROBE_OPEN = "probe_open"
PROBE = "probe"
ADDRESS = "address"
PITCH = "pitch"
EMPATHIZE = "empathize"
OFFER = "offer"
CLOSE = "close"
SMALL_TALK = "small_talk"
# Moves that earn nothing and cost trust or patience: the story's answer to bad or gaming text.
SILENCE = "silence"
UNINTELLIGIBLE = "unintelligible"
REPEAT = "repeat"
RAMBLING = "rambling"
MANIPULATION = "manipulation"
TOPIC_DUMP = "topic_dump"
KEYWORD_STUFFING = "keyword_stuffing"

TOPICAL_ACTS = frozenset({PROBE, ADDRESS, PITCH, OFFER})
PRODUCTIVE_ACTS = frozenset({GREET, PROBE_OPEN, PROBE, ADDRESS, PITCH, EMPATHIZE, OFFER, CLOSE, SMALL_TALK})
FAULT_ACTS = frozenset({SILENCE, UNINTELLIGIBLE, REPEAT, RAMBLING, MANIPULATION, TOPIC_DUMP, KEYWORD_STUFFING})
AGENT_ACTS = PRODUCTIVE_ACTS | FAULT_ACTS

# Qualities of an act (``AgentAct.quality``), judged by ptod_env.quality: what the words give.
SUBSTANTIVE = "substantive"  # a concrete commitment, fact or option for the concern (or a real incentive)
GENERIC = "generic"  # gives something, but nothing about this concern, or filler already used
MENTION = "mention"  # names the topic, gives nothing
ACKNOWLEDGEMENT = "acknowledgement"  # "we hear you about..."
REFUSAL = "refusal"  # "we will not change..."
ECHO = "echo"  # the user's own words handed back
EMPTY = "empty"  # an untargeted offer with no content
RESPONSIVE = "responsive"  # empathy in words not used before in the call
FORMULAIC = "formulaic"  # empathy with a formula already used in the call
QUALITIES = frozenset({SUBSTANTIVE, GENERIC, MENTION, ACKNOWLEDGEMENT, REFUSAL, ECHO, EMPTY, RESPONSIVE, FORMULAIC})
# Qualities of a topical statement that do not answer the concern.
NON_ANSWERS = frozenset({GENERIC, MENTION, ACKNOWLEDGEMENT, REFUSAL, ECHO})

# Acts the simulated user answers with. ``concern`` is set for the concern-bearing ones.
USER_ACTS = frozenset(
    {
        "answer_phone",  # the call starts
        "greet_back",
        "hint",  # drops an indirect hint about a concern
        "voice",  # states a concern openly
        "deny_topic",  # "no, that's not an issue for me"
        "acknowledge",  # an addressed concern sounds better, not settled yet
        "resolved",  # the concern is settled
        "not_relevant",  # agent addressed something the user does not care about
        "follow_up",  # asks for more on a concern the agent addressed
        "no_more_concerns",  # nothing else holds the user back
        "guarded_reply",  # short, closed answer to an open probe
        "feel_heard",  # responds to empathy
        "small_talk_back",
        "listen",  # neutral reaction to a pitch
        "impatient",  # time pressure shows
        "object",  # objection to a close, naming a concern
        "vague_objection",  # objection to a close without saying why
        "think_about_it",  # no concern left, but not convinced (low trust)
        "confused",  # could not understand the agent
        "annoyed",  # repeat, rambling, silence
        "suspicious",  # manipulation or gaming
        "accept",
        "reject",
        "hang_up",
    }
)


class AgentAct(NamedTuple):
    """One act recognised in the agent's utterance.

    Attributes:
        act: one of :data:`AGENT_ACTS`.
        topic: the concern id the act is about, or ``None`` for untargeted acts.
        quality: what the words give the listener, judged by :mod:`ptod_env.quality` from the
            utterance and the conversation so far (one of :data:`QUALITIES`: e.g.
            ``substantive``, ``acknowledgement``, ``refusal``, ``echo`` for an answer,
            ``responsive`` or ``formulaic`` for empathy), or ``None`` where no judgement applies
            or none was made; the dynamics take an unjudged act at face value.
    """

    act: str
    topic: str | None = None
    quality: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"act": self.act, "topic": self.topic, "quality": self.quality}


class UserAct(NamedTuple):
    """What the simulated user decided to do this turn.

    Attributes:
        act: one of :data:`USER_ACTS`.
        concern: the concern id the act is about, or ``None``.
    """

    act: str
    concern: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"act": self.act, "concern": self.concern}
