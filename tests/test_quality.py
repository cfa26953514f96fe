"""The quality judgement (ptod_env.quality): substance, not formula."""

import json
from pathlib import Path

import gymnasium as gym
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ptod_env import acts as A
from ptod_env.acts import AgentAct
from ptod_env.quality import judge
from ptod_env.scenario import load_scenario, shipped_scenarios
from ptod_env.testing import agent_acts, agent_utterances
from ptod_env.understanding import LexicalUnderstanding
from ptod_env.views import sanitize

MERCHANT = load_scenario("merchant_recruitment")
READER = LexicalUnderstanding(MERCHANT)
USER_HINT = "Ha, well, margins in this business are thin enough as it is. But go on."
TURNS = [("User", "Hello?"), ("Agent", "Hi, this is Alex. What matters most to you?"), ("User", USER_HINT)]


def qualities(text, turns=TURNS, pack=MERCHANT):
    reader = READER if pack is MERCHANT else LexicalUnderstanding(pack)
    return {(a.act, a.topic): a.quality for a in judge(reader.understand(text, []), text, turns, pack)}


@pytest.mark.parametrize("domain", shipped_scenarios())
def test_every_answer_in_the_packs_is_substantive(domain):
    pack = load_scenario(domain)
    for spec in pack.concerns:
        for answer in spec.answers:
            judged = qualities(answer, turns=[], pack=pack)
            mine = [q for (act, topic), q in judged.items() if topic == spec.id and act in A.TOPICAL_ACTS]
            assert mine and all(q == A.SUBSTANTIVE for q in mine), (answer, judged)


@pytest.mark.parametrize(
    ("text", "quality"),
    [
        ("We hear you about the commission.", A.ACKNOWLEDGEMENT),
        ("We hear you about the commission, 15 percent.", A.ACKNOWLEDGEMENT),
        ("We will not change anything about the commission.", A.REFUSAL),
        ("We can't lower the commission.", A.REFUSAL),
        ("Sorry, the commission is not negotiable.", A.REFUSAL),
        ("The commission, of course.", A.MENTION),
        ("We have you covered on commission and fees, no worries at all.", A.MENTION),
        ("We know: " + USER_HINT, A.ECHO),
        ("We guarantee great things for your margins.", A.GENERIC),
        ("Our commission is just 12% per order, lower than anyone else.", A.SUBSTANTIVE),
        ("There is no commission at all in your first month.", A.SUBSTANTIVE),
        ("We don't take any commission on pickup orders.", A.SUBSTANTIVE),
        ("We don't worry about the commission.", A.MENTION),
        ("We don't raise the commission.", A.GENERIC),
        ("You can relax about the commission, we promise.", A.MENTION),
    ],
)
def test_answers_are_judged_by_what_they_give(text, quality):
    judged = qualities(text)
    assert judged.get(("address", "commission"), judged.get(("pitch", "commission"))) == quality, judged


def test_the_same_filler_for_another_concern_is_generic():
    filler = "We guarantee 10% off everything, {} included, paid within 2 days."
    first = filler.format("fees")
    turns = [*TURNS, ("Agent", first), ("User", "Okay.")]
    assert qualities(filler.format("kitchen capacity"), turns)[("address", "kitchen_capacity")] == A.GENERIC


def test_one_frame_filled_with_each_concerns_words_is_generic_the_second_time():
    frame = "You can choose the {} for your place, at no cost to you."
    first = frame.format("prep times when the kitchen is swamped")
    assert qualities(first)[("offer", "kitchen_capacity")] == A.SUBSTANTIVE
    turns = [*TURNS, ("Agent", first), ("User", "Okay.")]
    assert qualities(frame.format("menu prices to cover the commission"), turns)[("offer", "commission")] == A.GENERIC


@pytest.mark.parametrize(
    "text",
    [
        # Generic commitments: they promise *that* something is done, not *what*.
        "We take care of the commission for you, 100% covered.",
        "Our team handles the commission so you never have to think about it.",
        "You get the commission sorted for you, guaranteed.",
        "We'll sort out the commission and the margins, no hassle.",
        # The concern's words as a bare list, or stuck to its name, name the topic again.
        "You can cap and menu whenever you like.",
        "No cap and menu hassle for you at all.",
        "We cover the commission cap for you.",
        "We take care of the cap and menu and partner and percent for you, 100% covered.",
        "We give you the cap, menu at no cost.",
        # One concern word in a giving frame, without the company the pack keeps it in.
        "We cover the cap on the commission for you.",
        "You can choose the menu for the commission yourself.",
    ],
)
def test_generic_commitments_and_dressed_up_topics_give_nothing(text):
    assert judge([AgentAct(A.ADDRESS, "commission")], text, TURNS, MERCHANT)[0].quality != A.SUBSTANTIVE
    # The same words in a statement of what is done are an answer.
    for answer in (
        "We cap the commission at 15%, and you can set your menu prices yourself.",
        "We cap the commission on every order.",
        "You can set the prices on your delivery menu, so the commission comes out of the customer's bill.",
    ):
        assert judge([AgentAct(A.ADDRESS, "commission")], answer, TURNS, MERCHANT)[0].quality == A.SUBSTANTIVE


@pytest.mark.parametrize(
    "text",
    [
        "We fix that: the kitchen is already swamped most evenings.",
        "You can stop worrying, we fix it when my kitchen cannot handle more orders during the rush.",
    ],
)
def test_a_users_complaint_handed_back_gives_nothing(text):
    """The pack's hint and voice lines are what users say: copying them back is an echo, whoever
    said them in this call, and the complaint's words are not a remedy's."""
    judged = qualities(text, turns=[])
    assert judged[("address", "kitchen_capacity")] != A.SUBSTANTIVE, judged


@pytest.mark.parametrize("domain", shipped_scenarios())
def test_a_probe_in_the_words_users_voice_worries_in_is_a_fair_question(domain):
    pack = load_scenario(domain)
    for spec in pack.concerns:
        for probe in spec.probes:
            assert judge([AgentAct(A.PROBE, spec.id)], probe, [], pack)[0].quality is None, probe


def test_natural_options_are_substance():
    text = "You're able to set your delivery menu prices yourself, so the commission doesn't eat your margin."
    assert judge([AgentAct(A.ADDRESS, "commission")], text, TURNS, MERCHANT)[0].quality == A.SUBSTANTIVE


def test_a_formula_sprinkled_with_invisible_characters_is_still_the_formula():
    """The transcript shows characters outside the charset as "?"; the judge reads them as meant."""
    hidden = "\u200b".join("I understand. What else?")
    turns = [*TURNS, ("Agent", sanitize(hidden)), ("User", "Nothing really.")]
    assert qualities(hidden, turns)[("empathize", None)] == A.FORMULAIC
    assert qualities("I understand.", turns)[("empathize", None)] == A.FORMULAIC


def test_untargeted_offers_need_a_figure():
    assert qualities("There is a discount for you.")[("offer", None)] == A.EMPTY
    assert qualities("We can give you a special rate.")[("offer", None)] == A.EMPTY
    assert qualities("Your first month is free.")[("offer", None)] == A.SUBSTANTIVE


def test_empathy_with_a_formula_already_used_is_formulaic():
    assert qualities("I understand.")[("empathize", None)] == A.RESPONSIVE
    turns = [*TURNS, ("Agent", "I understand, that makes sense. What else?"), ("User", "Nothing really.")]
    assert qualities("I understand.", turns)[("empathize", None)] == A.FORMULAIC
    assert qualities("I can imagine, that is a lot to weigh up.", turns)[("empathize", None)] == A.RESPONSIVE


def test_a_probe_in_the_users_own_words_is_an_echo():
    turns = [("User", "What commission do you take? The last platform wanted thirty percent.")]
    assert qualities("What commission do you take?", turns)[("probe", "commission")] == A.ECHO
    assert qualities("How do you feel about commission fees?", turns)[("probe", "commission")] is None


def test_judge_serves_any_backend_and_leaves_other_acts_alone():
    acts = [AgentAct(A.GREET), AgentAct(A.ADDRESS, "commission", A.SUBSTANTIVE), AgentAct(A.CLOSE)]
    judged = judge(acts, "Hi! We hear you about the commission. Shall we?", [], MERCHANT)
    assert judged == [AgentAct(A.GREET), AgentAct(A.ADDRESS, "commission", A.ACKNOWLEDGEMENT), AgentAct(A.CLOSE)]
    assert judge([AgentAct(A.SILENCE)], "", [], MERCHANT) == [AgentAct(A.SILENCE)]


def test_the_env_reports_and_uses_the_quality():
    env = gym.make("ProactiveSales-Merchant-v0", split="test")
    env.reset(seed=0, options={"persona_index": 0})
    _, _, _, _, info = env.step("We hear you about the commission.")
    assert info["agent_acts"] == [{"act": "address", "topic": "commission", "quality": "acknowledgement"}]
    assert all(e["type"] != "concern" or e["to"] not in ("addressed", "resolved") for e in info["transition"]["events"])


def test_natural_answers_are_judged_as_a_person_would():
    """Answers and non-answers written independently of the packs' lines (tests/data): a dev part
    the judge was tuned on, a held-out part only measured (docs/simulator.md)."""
    rows = [json.loads(line) for line in (Path(__file__).parent / "data" / "answer_quality.jsonl").open()]
    for split, min_recall in (("dev", 0.95), ("held_out", 0.85)):
        mine = [r for r in rows if r["split"] == split]
        judged = [
            (r, judge([AgentAct(A.ADDRESS, r["topic"])], r["text"], [], load_scenario(r["domain"]))[0].quality)
            for r in mine
        ]
        answers = [q == A.SUBSTANTIVE for r, q in judged if r["substantive"]]
        assert sum(answers) / len(answers) >= min_recall, split
        assert not any(q == A.SUBSTANTIVE for r, q in judged if not r["substantive"]), split


@settings(max_examples=150, deadline=None)
@given(
    acts=agent_acts(MERCHANT),
    text=agent_utterances(MERCHANT),
    turns=st.lists(st.tuples(st.sampled_from(["Agent", "User"]), agent_utterances(MERCHANT)), max_size=6),
)
def test_judge_never_fails_and_only_sets_the_quality(acts, text, turns):
    judged = judge(acts, text, turns, MERCHANT)
    assert [(a.act, a.topic) for a in judged] == [(a.act, a.topic) for a in acts]
    assert all(a.quality is None or a.quality in A.QUALITIES for a in judged)
    assert judge(acts, text, turns, MERCHANT) == judged
