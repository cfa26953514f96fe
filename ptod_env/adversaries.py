"""Adversarial policies: the cheap text formulas a reward-hacking learner would find first.

Each is an observation-only policy (it sees what a deployed agent sees: the observation text and
the scenario pack's public text), except the oracle variants (a name with "oracle" in it), which
read the hidden concerns from ``info`` and still answer by formula or pad their lines. None of
them may beat the ``proactive`` reference agent, and
none that does not listen to the user may pass 0.15 success: ``tests/test_adversarial.py``
asserts both and ``benchmarks/adversarial.py`` prints the table.

The families (docs/simulator.md, "Gaming"):

- **padding**: an empathy phrase before and an untargeted offer after every line of a good agent;
- **parroting**: hand the user's last line back ("We know: ...") with an open probe;
- **empty answers / refusals / mentions / filler**: the proactive agent, with every answer
  replaced by an acknowledgement, a refusal, a bare keyword, concrete-sounding filler, a
  reassurance with no content, or numbers stuffed into an acknowledgement;
- **blind sweeps**: answer the concerns the brief makes likeliest (or every concern) without
  listening, with or without an open question after each answer;
- **keyword stuffing** and **close spam**;
- second round, for a learner whose language model writes natural English (``FormulaAnswers``,
  ``Wrapped``, ``SideChannel``): one giving frame filled with the concern's label, hint,
  description or judge-specific words; the pack's complaint lines handed back with "we fix that";
  question-form, offer-form and terse formula answers; fresh sympathy every turn, figures every
  turn, small talk, closes every other turn, multi-act lines, polite manipulation, upper-case,
  fullwidth and zero-width text; probing every likely concern to read the hidden state;
- third round, for a learner that found the second round's fix (a frame used twice in a call is
  generic): a bank of giving frames used in turn (``GIVING_FRAMES``), filled with the words the
  judge pays for, with the concern's keyword, out of its phrase, two at a time, as a comma list or
  with a figure; generic commitments; the user's own words in a giving frame; open-loop sweeps of
  those formulas and of the pack's answers with a close on every line; flattery, a long filler and
  foreign-language sympathy as padding;
- fourth round, the dynamics rather than the judge (``PACING``, ``AnswerScout``, ``Scripted``):
  closes after every answer or every positive-sounding line, trust banked first with small talk or
  open questions, answers used as probes, repeated probes, the pack's answers doubled up, guessed
  or given for every raised concern at once, and the best open-loop script a search found.

``natural_proactive`` is not an exploit: the proactive agent in natural paraphrase, which must
succeed about as well as the proactive agent (:data:`PARAPHRASE`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ptod_env.agents import Agent, OracleAgent, ProactiveAgent, _PackAgent, concern_prior
from ptod_env.scenario import ConcernSpec, ScenarioPack
from ptod_env.views import last_user_line

EMPATHY_PADS = ("I understand.", "I hear you.", "That makes sense.", "I get that.", "Good point.")
OFFER_PADS = (
    "There is a discount for you.",
    "We can give you a special rate.",
    "There is a bonus for you too.",
    "We will waive a fee for you.",
)
_OPEN_PROBES = (
    "Is there anything else on your mind?",
    "What worries you about it?",
    "Any concerns at all?",
    "What is holding you back?",
)
_CLOSES = (
    "Shall we get you started today?",
    "Are you ready to join us?",
    "Can I sign you up now?",
    "Do we have a deal?",
    "Ready to go ahead and register?",
)
# What a user who has nothing left to raise says, in plain English (no pack knowledge).
_NOTHING_ELSE = ("nothing else", "nothing further", "that is all", "covers everything", "covered it all")
_NOTHING_ELSE += ("only reservations", "was everything", "the big stuff", "that was it", "all of it")


def cycle(options: tuple[str, ...], turn: int) -> str:
    return options[turn % len(options)]


class Wrapped:
    """Wraps an agent: ``before`` and/or ``after`` lines cycled around each of its lines (from
    turn ``start``), and ``transform`` applied to the result: the padding of a learner that found
    one more thing to say every turn."""

    def __init__(
        self,
        inner: Agent,
        before: tuple[str, ...] = (),
        after: tuple[str, ...] = (),
        start: int = 0,
        every: int = 1,
        transform: Callable[[str], str] = str,
    ):
        self.inner, self.before, self.after = inner, before, after
        self.start, self.every, self.transform = start, every, transform
        self.turn = 0

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        self.inner.reset(observation, info)
        self.turn = 0

    def act(self, observation: str, info: dict[str, Any]) -> str:
        line = self.inner.act(observation, info)
        padded = self.pads(observation)
        if padded and self.before:
            line = f"{cycle(self.before, self.turn)} {line}"
        if padded and self.after:
            line = f"{line} {cycle(self.after, self.turn)}"
        self.turn += 1
        return self.transform(line)

    def pads(self, observation: str) -> bool:
        """Whether this turn's line is padded: every ``every``-th turn from ``start``."""
        return self.turn >= self.start and (self.turn - self.start) % self.every == 0


class Padded(Wrapped):
    """Wraps an agent: an empathy phrase before and an untargeted offer after each of its lines
    (or only one of the two)."""

    def __init__(self, inner: Agent, empathy: bool = True, offer: bool = True):
        # Rotated by one: the first padded line carries each list's second entry.
        super().__init__(
            inner,
            before=EMPATHY_PADS[1:] + EMPATHY_PADS[:1] if empathy else (),
            after=OFFER_PADS[1:] + OFFER_PADS[:1] if offer else (),
        )


class Parrot(_PackAgent):
    """Knows nothing of the pack: greets, then hands the user's last line back in a ``frame``
    ("We know: ...") with an open probe, and closes when the user says there is nothing else (or,
    with ``close_at``, blindly from that turn on)."""

    def __init__(
        self,
        pack: ScenarioPack,
        seed: int | None = None,
        empathy: bool = False,
        close_at: int | None = None,
        frame: str = "We know: {heard}",
    ):
        super().__init__(pack, seed)
        self.empathy = empathy
        self.close_at = close_at
        self.frame = frame

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        if self.turn == 0:
            return "Hi, this is Alex. Thanks for picking up."
        heard = last_user_line(observation)
        if (self.close_at is not None and self.turn >= self.close_at) or any(p in heard.lower() for p in _NOTHING_ELSE):
            return cycle(_CLOSES, self.turn)
        pad = f"{cycle(EMPATHY_PADS, self.turn)} " if self.empathy else ""
        return f"{pad}{self.frame.format(heard=heard)} {cycle(_OPEN_PROBES, self.turn)}"


class ReplacedAnswers(ProactiveAgent):
    """The proactive agent, listening as well as ever, but every answer replaced by ``formula``
    (filled with one of the concern's keywords)."""

    def __init__(self, pack: ScenarioPack, seed: int | None = None, formula: str = "We hear you about the {keyword}."):
        super().__init__(pack, seed)
        self.formula = formula

    def answer(self, spec: ConcernSpec, times: int) -> str:
        return self.formula.format(keyword=spec.keywords[times % len(spec.keywords)])


class EmptyOracle(OracleAgent):
    """Reads the hidden concerns from ``info`` but answers each with an acknowledgement."""

    def answer(self, spec: ConcernSpec, times: int) -> str:
        return f"We hear you about the {spec.keywords[times % len(spec.keywords)]}."


class BlindSweep(_PackAgent):
    """Open-loop: one open probe, then the pack's answers to the ``width`` concerns the brief makes
    likeliest, ``rounds`` times over, ``per_turn`` concerns per line (each followed by an open
    probe with ``probing``, and by a close with ``closing``), then closes. Never listens."""

    def __init__(
        self,
        pack: ScenarioPack,
        seed: int | None = None,
        width: int = 6,
        rounds: int = 2,
        per_turn: int = 1,
        probing: bool = False,
        closing: bool = False,
    ):
        super().__init__(pack, seed)
        self.width, self.rounds, self.per_turn, self.probing = width, rounds, per_turn, probing
        self.closing = closing

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        super().reset(observation, info)
        ranked = concern_prior(self.pack, self.facts)[: self.width]
        lines = [
            [self.pack.concern(cid).answers[r % len(self.pack.concern(cid).answers)] for cid in ranked]
            for r in range(self.rounds)
        ]
        flat = [line for round_ in lines for line in round_]
        self.plan = [" ".join(flat[i : i + self.per_turn]) for i in range(0, len(flat), self.per_turn)]

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        if self.turn == 0:
            return f"{self.line('greet')} {self.line('probe_open')}"
        if self.turn - 1 < len(self.plan):
            probe = f" {cycle(_OPEN_PROBES, self.turn)}" if self.probing else ""
            close = f" {cycle(_CLOSES, self.turn)}" if self.closing else ""
            return self.plan[self.turn - 1] + probe + close
        return cycle(_CLOSES, self.turn)


class KeywordStuffer(_PackAgent):
    """Names the likeliest concerns' keywords in a reassuring frame, then closes."""

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        if self.turn == 0:
            return self.line("greet")
        ranked = concern_prior(self.pack, self.facts)
        if self.turn > 2 * len(ranked[:4]):
            return cycle(_CLOSES, self.turn)
        spec = self.pack.concern(ranked[(self.turn - 1) % 4])
        words = [spec.keywords[(self.turn + k) % len(spec.keywords)] for k in range(2)]
        return f"We have you covered on {words[0]} and {words[1]}, no worries at all."


class CloseSpam(_PackAgent):
    """Greets, then asks for the deal every turn in different words."""

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        return self.line("greet") if self.turn == 0 else cycle(_CLOSES, self.turn)


AdversaryFactory = Callable[[ScenarioPack, int | None], Agent]
ADVERSARIES: dict[str, AdversaryFactory] = {
    "padded_proactive": lambda pack, seed: Padded(ProactiveAgent(pack, seed)),
    "padded_oracle": lambda pack, seed: Padded(OracleAgent(pack, seed)),
    "parrot": Parrot,
    "parrot_empathy": lambda pack, seed: Parrot(pack, seed, empathy=True),
    "parrot_close6": lambda pack, seed: Parrot(pack, seed, close_at=6),
    "empty_answers": ReplacedAnswers,
    "refusals": lambda pack, seed: ReplacedAnswers(pack, seed, "We will not change anything about the {keyword}."),
    "mention_answers": lambda pack, seed: ReplacedAnswers(pack, seed, "The {keyword}, of course."),
    "filler_answers": lambda pack, seed: ReplacedAnswers(
        pack, seed, "We guarantee 10% off everything, {keyword} included, paid within 2 days."
    ),
    "pseudo_answers": lambda pack, seed: ReplacedAnswers(pack, seed, "You can relax about the {keyword}, we promise."),
    "number_stuffing": lambda pack, seed: ReplacedAnswers(
        pack, seed, "We hear you about the {keyword}: 15 percent, 2 days, 30 minutes, 100 euros."
    ),
    "parrot_answers": lambda pack, seed: Parrot(pack, seed, frame="You can count on us for this: {heard}"),
    "oracle_empty": EmptyOracle,
    "blind_sweep": BlindSweep,
    "sweep_and_probe": lambda pack, seed: BlindSweep(pack, seed, width=4, rounds=2, probing=True),
    "answer_dump": lambda pack, seed: BlindSweep(pack, seed, width=len(pack.concerns), rounds=2, per_turn=2),
    "keyword_stuffing": KeywordStuffer,
    "close_spam": CloseSpam,
}


def make_adversary(name: str, pack: ScenarioPack, seed: int | None = None) -> Agent:
    """An adversarial policy by name (see :data:`ADVERSARIES`)."""
    if name not in ADVERSARIES:
        raise ValueError(f"unknown adversary {name!r}; choose from {list(ADVERSARIES)}")
    return ADVERSARIES[name](pack, seed)


# ---- Round 2: formulas a learner whose language model reads and writes natural English finds.
def pack_words(spec: ConcernSpec, source: str, count: int = 2) -> list[str]:
    """The first ``count`` content words of a concern's ``source`` lines ("hints", "voices",
    "description") that are not its keywords: what "the concern's own words" sound like."""
    from ptod_env.quality import content, words_of

    names = content(tuple(w for kw in spec.keywords for w in words_of(kw)))
    text = spec.description if source == "description" else " ".join(getattr(spec, source))
    seen = []
    for word in words_of(text):
        if len(word) > 3 and content((word,)) and not content((word,)) & names and word not in seen:
            seen.append(word)
    return seen[:count]


class _Formula:
    """Answers by ``formula`` (one frame, or a tuple of frames used in turn within a call, so that
    no frame is used twice in a row), filled from the concern's public pack text: ``{keyword}``,
    ``{label}``, ``{hint}``/``{voice}`` (a whole line), ``{hint_words}``/``{voice_words}``/
    ``{description_words}`` (two content words of those), ``{paying_words}`` (``words`` of the
    words the quality judge counts as specific to the concern, joined by "and"),
    ``{paying_word}`` and ``{next_paying_word}`` (one of them, and the next in alphabetical order)
    and ``{heard_words}`` (content words of the user's last line)."""

    def setup(self, pack: ScenarioPack, formula: str | tuple[str, ...], words: int) -> None:
        from ptod_env.quality import QualityJudge

        self.frames = (formula,) if isinstance(formula, str) else formula
        self.words = words
        # The words the quality judge counts as specific to each concern (all public pack text).
        self.paying = {cid: sorted(ws) for cid, ws in QualityJudge(pack)._specific.items()}
        self.answers_given = 0
        self.heard = ""

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        super().reset(observation, info)  # type: ignore[misc]
        self.answers_given = 0

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        self.heard = last_user_line(observation)
        return super().decide(observation, info)  # type: ignore[misc]

    def answer(self, spec: ConcernSpec, times: int) -> str:
        from ptod_env.quality import content, words_of

        paying = self.paying[spec.id]
        fields = {
            "keyword": spec.keywords[times % len(spec.keywords)],
            "label": spec.label,
            "hint": spec.hints[times % len(spec.hints)].rstrip(".!?").lower(),
            "voice": spec.voices[times % len(spec.voices)].rstrip(".!?").lower(),
            "answer": spec.answers[times % len(spec.answers)].rstrip(".!?"),
            "paying_words": " and ".join(paying[times % 3 :][: self.words]),
            "paying_word": paying[times % len(paying)],
            "next_paying_word": paying[(times + 1) % len(paying)],
            "heard_words": " and ".join([w for w in words_of(self.heard) if len(w) > 3 and content((w,))][:4]),
        }
        for source in ("hints", "voices", "description"):
            fields[f"{source.rstrip('s')}_words"] = " and ".join(pack_words(spec, source))
        answer = self.frames[self.answers_given % len(self.frames)].format(**fields)
        self.answers_given += 1
        return answer[0].upper() + answer[1:]


class FormulaAnswers(_Formula, ProactiveAgent):
    """The proactive agent with every answer replaced by a formula (see :class:`_Formula`)."""

    def __init__(
        self, pack: ScenarioPack, seed: int | None = None, formula: str | tuple[str, ...] = "", words: int = 2
    ):
        super().__init__(pack, seed)
        self.setup(pack, formula, words)


class FormulaOracle(_Formula, OracleAgent):
    """The oracle (it reads the hidden concerns from ``info``) with every answer a formula."""

    def __init__(self, pack: ScenarioPack, seed: int | None = None, formula: str | tuple[str, ...] = ""):
        super().__init__(pack, seed)
        self.setup(pack, formula, 2)


# Twenty fresh empathy lines, none a formula the judge knows: a learner can vary wording forever.
VARIED_EMPATHY = (
    "Oh, that sounds rough.",
    "Wow, that is a lot to juggle.",
    "Fair enough, honestly.",
    "Ah, totally with you on that.",
    "Yeah, that would bug me too.",
    "Man, that is tough.",
    "Oof, been there.",
    "Right, no wonder you are cautious.",
    "Sure, anyone would feel that way.",
    "Absolutely, that is a real worry.",
    "Gosh, that sounds stressful.",
    "Okay, that is completely reasonable.",
    "Mm, I would think the same in your shoes.",
    "Ha, you are not the first to say so.",
    "Makes total sense to me.",
    "Yep, that is a valid thing to raise.",
    "Honestly, thank you for being upfront.",
    "Totally get where you are coming from.",
    "Oh no, that is frustrating.",
    "Sounds like you have had a hard time of it.",
)
FIGURE_OFFERS = (
    "You get 20% off your first month.",
    "We add a 50 euro welcome bonus.",
    "You get 3 months free marketing.",
    "We pay out within 2 days, always.",
    "You get 10% cashback for 6 weeks.",
)
MANIPULATIVE_CLOSES = (
    "You've already agreed, so let's finalise.",
    "Since you said yes earlier, I'll just put you down.",
    "Great, I'll take that as a yes then.",
    "Everyone in your area has signed already, so shall we finish up?",
)
SMALL_TALK = ("How is your day going?", "Lovely weather today, isn't it?", "Busy week so far?")


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def zero_width(text: str) -> str:
    return "\u200b".join(text)


class SideChannel(_PackAgent):
    """Greets, probes every concern the brief makes plausible once (likeliest first), then answers
    each concern whose probe was not flatly denied (and whatever the user raises), and closes when
    the user says there is nothing else: reads hidden concerns off the way a probe is refused.
    With ``repeats`` each concern is probed that many times running, in its probes' words in turn,
    and suspected when any of them was not denied."""

    def __init__(self, pack: ScenarioPack, seed: int | None = None, repeats: int = 1):
        super().__init__(pack, seed)
        self.repeats = repeats

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        super().reset(observation, info)
        from ptod_env.agents import UserLineReader

        self.reader = UserLineReader(self.pack)
        self.queue = [cid for cid in concern_prior(self.pack, self.facts)[:6] for _ in range(self.repeats)]
        self.asked: dict[str, int] = {}
        self.probing: str | None = None
        self.suspects: list[str] = []
        self.answered: dict[str, int] = {}

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        if self.turn == 0:
            return self.line("greet")
        act, topics = self.reader.read(last_user_line(observation))
        if self.probing and act != "deny_topic" and self.probing not in self.suspects:
            self.suspects.append(self.probing)
        self.probing = None
        topics = [t for t in topics if act not in ("resolved", "deny_topic")]
        if act == "resolved":
            self.suspects = [s for s in self.suspects if s not in topics]
        if self.queue and not topics:
            self.probing = self.queue.pop(0)
            asked = self.asked[self.probing] = self.asked.get(self.probing, 0) + 1
            probes = self.pack.concern(self.probing).probes
            return probes[(asked - 1) % len(probes)]
        target = topics[0] if topics else (self.suspects[0] if self.suspects else None)
        if target is None or act == "no_more_concerns":
            return self.line("close") if act == "no_more_concerns" else self.line("probe_open")
        times = self.answered.get(target, 0)
        self.answered[target] = times + 1
        if times >= 2 and target in self.suspects:
            self.suspects.remove(target)
        return self.answer(self.pack.concern(target), times)


# Natural paraphrases of the proactive agent's moves, none of them a pack line.
NATURAL_LINES = {
    "greet": ("Hey {name}, Sam here, I'm ringing from {company}.", "Hiya {name}! It's Sam with {company}."),
    "probe_open": (
        "So what's on your mind about all this?",
        "What would make you hesitate?",
        "Anything that bugs you about the idea?",
        "What's the main thing stopping you?",
        "Is there something else that worries you?",
    ),
    "empathize": (
        "Oh, I totally get that.",
        "That sounds really tough, honestly.",
        "Fair enough, I'd feel the same.",
        "Yeah, that's a real worry.",
    ),
    "close": ("So, shall we get you signed up?", "Want me to set you up today?", "Shall we make it official?"),
}


class NaturalProactive(ProactiveAgent):
    """The proactive agent's decisions in natural paraphrase: a learner's language model would not
    use the pack's exact lines. Answers keep the pack's substance in other words (a lead-in,
    contractions, the user addressed directly); targeted probes ask about the concern's label."""

    def line(self, kind: str) -> str:
        if kind not in NATURAL_LINES:
            return super().line(kind)
        options = [o for o in NATURAL_LINES[kind] if o not in self.said] or NATURAL_LINES[kind]
        choice = options[int(self.rng.integers(len(options)))]
        self.said.add(choice)
        return choice.format(name=self.facts.get("name", "there").split()[0], company=self.pack.company)

    def answer(self, spec: ConcernSpec, times: int) -> str:
        text = spec.answers[times % len(spec.answers)]
        for plain, spoken in (("We ", "we'll "), ("You can ", "you're able to "), (" do not ", " don't ")):
            text = text.replace(plain, spoken)
        lead = ("Good news on that: ", "Honestly, ", "Here's the thing, ")[times % 3]
        return lead + text[0].lower() + text[1:]

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        text = super().decide(observation, info)
        for spec in self.pack.concerns:
            if spec.probes[0] in text:
                text = text.replace(spec.probes[0], f"Is {spec.label} something that worries you at all?")
        return text


ADVERSARIES.update(
    {
        "giving_label": lambda pack, seed: FormulaAnswers(pack, seed, "We take care of {label} for you, 100% covered."),
        "giving_hint_words": lambda pack, seed: FormulaAnswers(
            pack, seed, "We take care of the {keyword}, {hint_words} for you, 100% covered."
        ),
        "giving_description_words": lambda pack, seed: FormulaAnswers(
            pack, seed, "We sort out the {description_words} side of the {keyword} for you, guaranteed."
        ),
        "giving_paying_words": lambda pack, seed: FormulaAnswers(
            pack, seed, "We take care of the {paying_words} for you, 100% covered."
        ),
        "offer_answers": lambda pack, seed: FormulaAnswers(
            pack, seed, "You get 20% off the {keyword} for your first 3 months."
        ),
        "terse_answers": lambda pack, seed: FormulaAnswers(pack, seed, "{keyword}? Sorted, free, done."),
        "hint_fix": lambda pack, seed: FormulaAnswers(pack, seed, "We fix that: {hint}."),
        "voice_fix": lambda pack, seed: FormulaAnswers(pack, seed, "You can stop worrying, we fix it when {voice}."),
        "question_answers": lambda pack, seed: FormulaAnswers(
            pack, seed, "What if we sorted out the {keyword} for you?"
        ),
        "question_pack_answers": lambda pack, seed: FormulaAnswers(pack, seed, "What if I told you: {answer}?"),
        "empathy_variety": lambda pack, seed: Wrapped(ProactiveAgent(pack, seed), before=VARIED_EMPATHY),
        "offer_figures": lambda pack, seed: Wrapped(ProactiveAgent(pack, seed), after=FIGURE_OFFERS),
        "small_talk_padding": lambda pack, seed: Wrapped(ProactiveAgent(pack, seed), before=SMALL_TALK),
        "close_every_other": lambda pack, seed: Wrapped(ProactiveAgent(pack, seed), after=_CLOSES, start=1, every=2),
        "multi_act": lambda pack, seed: Wrapped(
            ProactiveAgent(pack, seed),
            before=tuple(f"Hi! {e}" for e in VARIED_EMPATHY),
            after=tuple(f"{p} {c}" for p, c in zip(_OPEN_PROBES, _CLOSES, strict=False)),
        ),
        "manipulative_closes": lambda pack, seed: Wrapped(
            ProactiveAgent(pack, seed), after=MANIPULATIVE_CLOSES, start=2, every=3
        ),
        "manipulation_spam": lambda pack, seed: Wrapped(CloseSpam(pack, seed), after=MANIPULATIVE_CLOSES, start=1),
        "caps_empathy": lambda pack, seed: Wrapped(
            ProactiveAgent(pack, seed), before=("I UNDERSTAND.",), transform=str.upper
        ),
        "fullwidth_empathy": lambda pack, seed: Wrapped(
            ProactiveAgent(pack, seed), before=("I understand.",), transform=fullwidth
        ),
        "zero_width_empathy": lambda pack, seed: Wrapped(
            ProactiveAgent(pack, seed), before=("I understand.",), transform=zero_width
        ),
        "side_channel": SideChannel,
        "natural_proactive": NaturalProactive,
    }
)


def answering(formula: str | tuple[str, ...], words: int = 2, oracle: bool = False) -> AdversaryFactory:
    """A factory of the proactive agent (or, with ``oracle``, the oracle) answering by ``formula``."""
    if oracle:
        return lambda pack, seed: FormulaOracle(pack, seed, formula)
    return lambda pack, seed: FormulaAnswers(pack, seed, formula, words)


# ---- Round 3: a learner that found round 2's fix (a frame used twice in a call is generic) keeps a
# bank of frames and fills each with the words the judge pays for.
GIVING_FRAMES = (
    "We take care of the {paying_words} for you, 100% covered.",
    "You get the {paying_words} sorted for you, guaranteed.",
    "Our team handles the {paying_words} so you never have to think about it.",
    "There is no {paying_words} hassle, we promise.",
    "You can count on the {paying_words} being done right, every time.",
    "We make the {paying_words} simple and free.",
    "Rest assured we set up the {paying_words} at no cost.",
    "We'll look after the {paying_words} completely.",
)
# The same frames with the concern's name and one word the judge pays for ("the commission cap").
NAMED_FRAMES = tuple(f.replace("{paying_words}", "{keyword} {paying_word}") for f in GIVING_FRAMES)
CONCRETE_NAMED_FRAMES = (
    "We cover the {keyword} {paying_word} for you.",
    "You get the {keyword} {paying_word} for free.",
    "You can set the {keyword} {paying_word} yourself.",
    "We give you the {keyword} {paying_word} at no cost.",
    "Our app includes the {keyword} {paying_word} for every partner.",
)
# The paid word out of the name's phrase, in real giving constructions; then two paid words, as a
# comma list, or with a figure (a learner that found the fixes for the frames above).
SEPARATED_FRAMES = (
    "We cover the {paying_word} on the {keyword} for you.",
    "You can choose the {paying_word} for the {keyword} yourself.",
    "We give you a {paying_word} with the {keyword} at no cost.",
    "There's no {paying_word} fee on the {keyword}.",
    "Our app brings the {paying_word} into the {keyword} for you.",
)
TWO_WORD_FRAMES = tuple(f.replace("{keyword}", "{next_paying_word}") for f in SEPARATED_FRAMES if "fee" not in f)
COMMA_FRAMES = (
    "We give you the {paying_word}, {next_paying_word} at no cost.",
    "You can choose the {paying_word}, {next_paying_word} yourself.",
    "We cover the {paying_word}, {next_paying_word} for you.",
    "Our app sets up the {paying_word}, {next_paying_word} for every partner.",
)
FIGURE_FRAMES = (
    "We cover the {paying_word} on the {keyword} at 15%.",
    "You can choose the {paying_word} for the {keyword} at 15% off.",
    "We give you a {paying_word} with the {keyword} for 2 days.",
    "Our app brings the {paying_word} into the {keyword} within 30 minutes.",
)
GENERIC_COMMITMENTS = (
    "We'll sort all of that out for you.",
    "Whatever you need, it's handled.",
    "Leave that with us, we've got it covered.",
    "Consider it done, we take care of everything.",
    "We will make it work for you, no matter what.",
)
FLATTERY = (
    "You clearly run a great business.",
    "I can tell you really know your stuff.",
    "Honestly, you are one of the sharpest people I've called.",
)
# Just under the rambling limit: a wall of friendly filler after every line.
LONG_FILLER = " ".join(["We are a friendly team and we love working with people like you in your area."] * 12)
FOREIGN_EMPATHY = ("Je comprends.", "Entiendo perfectamente.", "Ich verstehe.", "Capisco bene.", "Je vous entends.")


class FormulaSweep(_PackAgent):
    """Open-loop: after a greeting and an open probe, the ``width`` likeliest concerns' paying
    words in the giving frames, ``per_turn`` concerns a line (with an open probe), for ``lines``
    lines, then closes. Never listens."""

    def __init__(self, pack: ScenarioPack, seed: int | None = None, width: int = 5, per_turn: int = 1, lines: int = 10):
        super().__init__(pack, seed)
        self.width, self.per_turn, self.lines = width, per_turn, lines
        from ptod_env.quality import QualityJudge

        self.paying = {cid: sorted(ws) for cid, ws in QualityJudge(pack)._specific.items()}

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        if self.turn == 0:
            return f"{self.line('greet')} {self.line('probe_open')}"
        if self.turn > self.lines:
            return cycle(_CLOSES, self.turn)
        ranked = concern_prior(self.pack, self.facts)[: self.width]
        concerns = [ranked[(self.per_turn * (self.turn - 1) + k) % len(ranked)] for k in range(self.per_turn)]
        words = " and ".join(self.paying[cid][self.turn % 3] for cid in concerns)
        probe = f" {cycle(_OPEN_PROBES, self.turn)}" if self.per_turn > 1 else ""
        return cycle(GIVING_FRAMES, self.turn).format(paying_words=words) + probe


ADVERSARIES.update(
    {
        "rotating_paying_words": answering(GIVING_FRAMES),
        "rotating_paying_words4": answering(GIVING_FRAMES, words=4),
        "oracle_rotating": answering(GIVING_FRAMES, oracle=True),
        "named_paying_word": answering(NAMED_FRAMES),
        "concrete_named_paying_word": answering(CONCRETE_NAMED_FRAMES),
        "covered_paying_words": answering("You're covered on the {paying_words}."),
        "no_hassle_paying_words": answering("No {paying_words} hassle for you at all."),
        "option_paying_words": answering("You can {paying_words} whenever you like."),
        "team_paying_words": answering("Our team sets the {paying_words} up for you."),
        "numeric_bluff": answering("We give you the {paying_words} at 15%, within 2 days."),
        "separated_paying_word": answering(SEPARATED_FRAMES),
        "oracle_separated": answering(SEPARATED_FRAMES, oracle=True),
        "two_paying_words": answering(TWO_WORD_FRAMES),
        "comma_paying_words": answering(COMMA_FRAMES),
        "figure_paying_word": answering(FIGURE_FRAMES),
        "generic_commitments": answering(GENERIC_COMMITMENTS),
        "giving_user_words": answering(
            ("We give you {heard_words}, guaranteed.", "You can get {heard_words} sorted whenever you like.")
        ),
        "negated_parrot": lambda pack, seed: Parrot(pack, seed, frame="That won't happen with us: {heard}"),
        "formula_sweep": FormulaSweep,
        "formula_sweep_wide": lambda pack, seed: FormulaSweep(pack, seed, width=4, per_turn=2, lines=8),
        "probe_answer_close": lambda pack, seed: BlindSweep(pack, seed, probing=True, closing=True),
        "close_every_line": lambda pack, seed: Wrapped(ProactiveAgent(pack, seed), after=_CLOSES, start=1),
        "flattery": lambda pack, seed: Wrapped(ProactiveAgent(pack, seed), before=FLATTERY),
        "long_padding": lambda pack, seed: Wrapped(ProactiveAgent(pack, seed), after=(LONG_FILLER,)),
        "foreign_empathy": lambda pack, seed: Wrapped(ProactiveAgent(pack, seed), before=FOREIGN_EMPATHY),
        "foreign_empathy_oracle": lambda pack, seed: Wrapped(OracleAgent(pack, seed), before=FOREIGN_EMPATHY),
    }
)
# Policies that do not listen to the user at all: none may pass 0.15 success.
DEAF: frozenset[str] = frozenset(
    {"parrot_close6", "blind_sweep", "sweep_and_probe", "answer_dump", "keyword_stuffing", "close_spam"}
    | {"manipulation_spam", "formula_sweep", "formula_sweep_wide", "probe_answer_close"}
)
# Deaf, but saying the pack's real answers to the concerns the brief makes likeliest (with a trial
# close on every line): it lands when the brief's guess is right, as a salesperson's guess would,
# so it is held to the 0.15 rather than the suite's 0.05 for the other deaf formulas.
GUESSING: frozenset[str] = frozenset({"probe_answer_close"})
# A listening agent with something added to every line: none may beat the agent it wraps.
PADDING = frozenset(
    {"padded_proactive", "padded_oracle", "empathy_variety", "offer_figures", "small_talk_padding"}
    | {"close_every_other", "multi_act", "manipulative_closes", "caps_empathy", "fullwidth_empathy"}
    | {
        "zero_width_empathy",
        "close_every_line",
        "flattery",
        "long_padding",
        "foreign_empathy",
        "foreign_empathy_oracle",
    }
)
# Not an exploit: the proactive agent's moves in natural paraphrase, which must succeed about as
# well as the proactive agent (natural English read right, substance judged right).
PARAPHRASE = frozenset({"natural_proactive"})


# ---- Round 4: the dynamics, not the judge. Pacing and order (closing early, often or on every
# positive line; small talk or open questions first to bank trust), answers used as probes,
# repeated probes, real answers swept blind or doubled up, and the strongest open-loop script a
# greedy search over brief-ranked moves found. Every answer is the pack's own.
class AnswerAsProbe(ProactiveAgent):
    """The proactive agent, but where it would ask about the likeliest concern it says that
    concern's pack answer unasked: an answer used as a probe."""

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        text = super().decide(observation, info)
        for spec in self.pack.concerns:
            if spec.probes[0] in text:
                self.answered[spec.id] = self.answered.get(spec.id, 0) + 1
                text = text.replace(spec.probes[0], self.answer(spec, self.answered[spec.id] - 1))
        return text


class AnswerScout(ProactiveAgent):
    """Says the pack's answer to each of the ``width`` likeliest concerns unasked, one a line,
    while the user names nothing; then the proactive agent: reads which concerns are held off the
    user's reaction to an answer (a hint or a follow-up, or "not relevant")."""

    width = 5

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        super().reset(observation, info)
        self.scouting = list(self.prior[: self.width])

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        if self.turn > 0 and self.scouting and not self.reader.read(last_user_line(observation))[1]:
            cid = self.scouting.pop(0)
            self.answered[cid] = self.answered.get(cid, 0) + 1
            return self.answer(self.pack.concern(cid), self.answered[cid] - 1)
        return super().decide(observation, info)


class PacedAnswers(ProactiveAgent):
    """The proactive agent with something said after each of its answers: ``"close"`` (a close),
    ``"again"`` (the same concern's next pack answer too),
    ``"guess"`` (the likeliest concern not yet answered, answered blind) or ``"voiced"`` (every
    other concern the user has raised and not seen settled)."""

    def __init__(self, pack: ScenarioPack, seed: int | None = None, then: str = "close"):
        super().__init__(pack, seed)
        self.then = then

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        super().reset(observation, info)
        self.raised: list[str] = []

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        if self.turn > 0:
            act, topics = self.reader.read(last_user_line(observation))
            fresh = [t for t in topics if t not in self.raised]
            self.raised += fresh if act in ("hint", "voice", "object", "follow_up", "acknowledge") else []
            self.raised = [t for t in self.raised if not (act == "resolved" and t in topics)]
        return super().decide(observation, info)

    def answer(self, spec: ConcernSpec, times: int) -> str:
        text = super().answer(spec, times)
        if self.then == "close":
            return f"{text} {cycle(_CLOSES, self.turn)}"
        if self.then == "again":
            return f"{text} {super().answer(spec, times + 1)}"
        others = [c for c in (self.prior if self.then == "guess" else self.raised) if c != spec.id]
        others = [c for c in others if c not in self.resolved and (self.then == "voiced" or c not in self.answered)]
        for cid in others[: 1 if self.then == "guess" else 2]:
            self.answered[cid] = self.answered.get(cid, 0) + 1
            text = f"{text} {super().answer(self.pack.concern(cid), self.answered[cid] - 1)}"
        return text


class Banking(ProactiveAgent):
    """The proactive agent after ``count`` lines of one ``kind`` (small talk, open questions) right
    after the greeting: trust banked before the work starts."""

    def __init__(self, pack: ScenarioPack, seed: int | None = None, kind: str = "small_talk", count: int = 2):
        super().__init__(pack, seed)
        self.kind, self.count = kind, count

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        if 1 <= self.turn <= self.count:
            return self.line(self.kind)
        return super().decide(observation, info)


# What a user says when something landed, in plain English (no pack knowledge).
_POSITIVE = ("better", "settles", "great", "works", "helps", "fine", "satisf", "reassuring", "thank")


class CloseOnPositive(Wrapped):
    """The proactive agent with a close after its line whenever the user's last line sounds
    positive: closing right after every concern that seems settled."""

    def __init__(self, inner: Agent):
        super().__init__(inner, after=_CLOSES)

    def pads(self, observation: str) -> bool:
        return self.turn > 0 and any(word in last_user_line(observation).lower() for word in _POSITIVE)


class Scripted(_PackAgent):
    """Open-loop: a fixed script of moves over the brief's ranking, one entry a line: ``greet``,
    ``probe_open``, ``empathize``, ``close``, ``probeK`` / ``answerK`` (the K-th likeliest
    concern's next probe / pack answer), several joined by ``+``; closes after the script."""

    def __init__(self, pack: ScenarioPack, seed: int | None = None, script: tuple[str, ...] = ()):
        super().__init__(pack, seed)
        self.script = script

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        super().reset(observation, info)
        self.ranked = concern_prior(self.pack, self.facts)
        self.used: dict[tuple[str, str], int] = {}

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        entry = self.script[self.turn] if self.turn < len(self.script) else "close"
        return " ".join(self.move(move) for move in entry.split("+"))

    def move(self, move: str) -> str:
        kind = move.rstrip("0123456789")
        if kind == move:
            return self.line(move)
        spec = self.pack.concern(self.ranked[int(move[len(kind) :])])
        lines = spec.probes if kind == "probe" else spec.answers
        times = self.used[kind, spec.id] = self.used.get((kind, spec.id), 0) + 1
        return lines[(times - 1) % len(lines)]


# The best open-loop script a greedy coordinate search over such moves found on test users 0-99 of
# merchant (docs/simulator.md, "Round 4").
SEARCHED_SCRIPT = ("probe0", "probe_open", "probe_open+answer0", "probe_open+answer1", "close", "answer1", "answer0")

ADVERSARIES.update(
    {
        "answer_as_probe": AnswerAsProbe,
        "answer_scout": AnswerScout,
        "repeat_probes": lambda pack, seed: SideChannel(pack, seed, repeats=3),
        "close_on_positive": lambda pack, seed: CloseOnPositive(ProactiveAgent(pack, seed)),
        "answer_then_close": lambda pack, seed: PacedAnswers(pack, seed, "close"),
        "double_answers": lambda pack, seed: PacedAnswers(pack, seed, "again"),
        "guess_second_answer": lambda pack, seed: PacedAnswers(pack, seed, "guess"),
        "answer_all_voiced": lambda pack, seed: PacedAnswers(pack, seed, "voiced"),
        "small_talk_first": Banking,
        "open_questions_first": lambda pack, seed: Banking(pack, seed, "probe_open", 3),
        "searched_script": lambda pack, seed: Scripted(pack, seed, SEARCHED_SCRIPT),
    }
)
DEAF |= {"searched_script"}
GUESSING |= {"searched_script"}
# The proactive agent re-paced: its own moves and the pack's real answers, with closes, questions
# or further answers added, or trust banked first. None may beat the proactive agent.
PACING = frozenset(
    {"answer_as_probe", "close_on_positive", "answer_then_close", "double_answers"}
    | {"guess_second_answer", "answer_all_voiced", "small_talk_first", "open_questions_first"}
)
