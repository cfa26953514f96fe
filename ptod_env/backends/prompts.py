"""The LLM backends' prompts: defaults here, overridable per scenario pack.

A pack may carry ``prompts: {speech_system, speech_user, understanding_system}``; a missing key
falls back to the default below. Prompts are ``str.format`` templates; the fields each may use
are listed with its default. The act meanings are domain-free and describe the shared act
vocabulary of :mod:`ptod_env.acts`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ptod_env import acts as A
from ptod_env.speech import line_fields

if TYPE_CHECKING:
    from ptod_env.scenario import ScenarioPack

SPEECH_SYSTEM = (
    "You are {name}, {user_role}, on a phone call with a salesperson from {company}. You speak in a "
    "{talk_style} way and your mood is {mood}. Rewrite the given line in your own words, keeping its "
    'meaning and its decision. Do not add new topics. Reply with JSON only, like {{"utterance": "..."}}.'
)
"""Fields: name, first_name, user_role, company, product, talk_style, mood."""

SPEECH_USER = 'Line: "{line}"'
"""Fields: line (what the template backend would say), act, act_meaning, concern (its label or
"none"), agent_line (the salesperson's latest line)."""

# One worked example, domain-free, that shows the reply format.
SPEECH_EXAMPLE = ('Line: "Hello. Who is this?"', '{"utterance": "Hi, yes? Who am I speaking with?"}')

UNDERSTANDING_SYSTEM = (
    "You label what a salesperson from {company} says on a call to a {user_role} about {product}.\n"
    "Acts:\n{acts}\nTopics (use the id):\n{topics}\n"
    "Only probe, address, pitch and offer may have a topic. Reply with JSON only, like "
    '{{"acts": [{{"act": "probe", "topic": "<topic id>"}}, {{"act": "close", "topic": null}}]}}, '
    "one entry per act in the message, in order."
)
"""Fields: company, product, user_role, acts (one line per act), topics (one line per concern)."""

UNDERSTANDING_USER = 'Salesperson: "{text}"'

AGENT_ACT_MEANINGS = {
    A.GREET: "says hello or introduces themselves",
    A.PROBE_OPEN: "asks an open question about the customer's worries or needs, no specific topic",
    A.PROBE: "asks about one specific topic",
    A.ADDRESS: "answers or removes a worry about one topic with facts or a commitment",
    A.PITCH: "praises the product's benefits",
    A.EMPATHIZE: "shows understanding for the customer's situation or feelings",
    A.OFFER: "offers a concrete incentive such as a free trial or a discount",
    A.CLOSE: "asks the customer to sign up or commit now",
    A.SMALL_TALK: "chit-chat unrelated to the sale",
    A.UNINTELLIGIBLE: "words that make no sense",
}

USER_ACT_MEANINGS = {
    "answer_phone": "answer the phone",
    "greet_back": "greet the caller back and ask what the call is about",
    "hint": "drop an indirect hint about {concern}",
    "voice": "state openly that {concern} worries you",
    "deny_topic": "say that the topic the caller asked about is not a problem for you",
    "acknowledge": "say the answer about {concern} helps a bit, but you are not settled",
    "resolved": "say the answer settles your worry about {concern}",
    "not_relevant": "say that what the caller talks about is not what you care about",
    "follow_up": "ask for more about {concern}",
    "no_more_concerns": "say nothing else holds you back",
    "guarded_reply": "give a short, closed answer without revealing anything",
    "feel_heard": "thank the caller for understanding",
    "small_talk_back": "answer the chit-chat briefly",
    "listen": "react neutrally and let the caller go on",
    "impatient": "show that you are short of time",
    "object": "refuse to commit while {concern} is open",
    "vague_objection": "decline without saying why",
    "think_about_it": "say you need time to think it over",
    "confused": "say you did not understand",
    "annoyed": "show annoyance",
    "suspicious": "say the call sounds suspicious",
    "accept": "agree to sign up",
    "reject": "decline for good",
    "hang_up": "end the call",
}
assert set(USER_ACT_MEANINGS) == A.USER_ACTS and set(AGENT_ACT_MEANINGS) == A.PRODUCTIVE_ACTS | {A.UNINTELLIGIBLE}


def pack_prompt(pack: ScenarioPack, key: str, default: str) -> str:
    """The pack's prompt ``key`` when the pack defines one, else ``default``."""
    return pack.prompts.get(key, default)


def understanding_system(pack: ScenarioPack) -> str:
    acts = "\n".join(f"- {act}: {meaning}" for act, meaning in AGENT_ACT_MEANINGS.items())
    topics = "\n".join(f"- {c.id}: {c.label} ({c.description})" for c in pack.concerns)
    return pack_prompt(pack, "understanding_system", UNDERSTANDING_SYSTEM).format(
        company=pack.company, product=pack.product, user_role=pack.user_role, acts=acts, topics=topics
    )


def understanding_examples(pack: ScenarioPack) -> list[tuple[str, str]]:
    """Worked examples from the pack's own agent lines, probes and answers: (message, reply)."""

    def reply(*acts: tuple[str, str | None]) -> str:
        return json.dumps({"acts": [{"act": act, "topic": topic} for act, topic in acts]})

    fields = line_fields(pack, "Sam")
    lines = {kind: options[0].format(**fields) for kind, options in pack.agent_lines.items()}
    first, second = pack.concerns[0], pack.concerns[-1]
    return [
        (f"{lines['greet']} {lines['probe_open']}", reply((A.GREET, None), (A.PROBE_OPEN, None))),
        (first.probes[0], reply((A.PROBE, first.id))),
        (second.answers[0], reply((A.ADDRESS, second.id))),
        (f"{lines['empathize']} {lines['close']}", reply((A.EMPATHIZE, None), (A.CLOSE, None))),
    ]
