"""Property tests of the cognitive state machine (ptod_env.dynamics)."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ptod_env import acts as A
from ptod_env.acts import USER_ACTS, AgentAct
from ptod_env.dynamics import CONCERN_STATUSES, STAGES, Rules, initial_state, transition
from ptod_env.persona import sample_persona
from ptod_env.scenario import load_scenario
from ptod_env.testing import agent_acts, personas, user_states

PACK = load_scenario("merchant_recruitment")
RULES = PACK.rules
RANK = {s: i for i, s in enumerate(CONCERN_STATUSES)}


def play(persona, turns, seed=0):
    rng = np.random.default_rng(seed)
    state = initial_state(persona, RULES)
    history = [(state, [], None)]
    for acts in turns:
        if state.terminal:
            break
        state, events, user_act = transition(state, acts, persona, rng, RULES)
        history.append((state, events, user_act))
    return history


@settings(max_examples=150, deadline=None)
@given(persona=personas("merchant_recruitment"), data=st.data())
def test_transition_keeps_state_in_bounds(persona, data):
    state = data.draw(user_states(persona))
    acts = data.draw(agent_acts(PACK))
    new, events, user_act = transition(state, acts, persona, np.random.default_rng(0), RULES)
    assert 0.0 <= new.trust <= 1.0
    assert new.patience >= 0
    assert new.stage in STAGES
    assert all(s in CONCERN_STATUSES for s in new.statuses)
    assert new.turn == state.turn + 1
    assert user_act.act in USER_ACTS
    assert all(isinstance(e, dict) and "type" in e for e in events)


@settings(max_examples=150, deadline=None)
@given(persona=personas("merchant_recruitment"), data=st.data())
def test_concern_progress_and_failed_closes_never_go_back(persona, data):
    state = data.draw(user_states(persona))
    new, _, _ = transition(state, data.draw(agent_acts(PACK)), persona, np.random.default_rng(1), RULES)
    assert all(RANK[b] <= RANK[a] for b, a in zip(state.statuses, new.statuses, strict=True))
    assert new.failed_closes >= state.failed_closes
    assert all(a >= b for b, a in zip(state.times_addressed, new.times_addressed, strict=True))


@settings(max_examples=100, deadline=None)
@given(persona=personas("merchant_recruitment"), turns=st.lists(agent_acts(PACK), min_size=40, max_size=40))
def test_every_call_ends_within_the_users_patience(persona, turns):
    history = play(persona, turns)
    final = history[-1][0]
    assert final.terminal
    assert final.turn <= persona.traits["patience"]


@settings(max_examples=100, deadline=None)
@given(
    persona=personas("merchant_recruitment"),
    turns=st.lists(agent_acts(PACK), max_size=15),
    seed=st.integers(0, 2**32 - 1),
)
def test_same_rng_seed_same_story(persona, turns, seed):
    assert play(persona, turns, seed) == play(persona, turns, seed)


@settings(max_examples=150, deadline=None)
@given(persona=personas("merchant_recruitment"), turns=st.lists(agent_acts(PACK), max_size=15))
def test_user_speaks_only_of_concerns_it_holds(persona, turns):
    held = {c.id for c in persona.concerns}
    for state, events, user_act in play(persona, turns)[1:]:
        if user_act.concern is not None:
            assert user_act.concern in held
        if user_act.act == "no_more_concerns":
            assert all(RANK[s] >= RANK["voiced"] for s in state.statuses)
        if user_act.act == "accept":
            assert all(s == "resolved" for s in state.statuses)
            assert state.stage == "accepted"
        assert all(e["concern"] in held for e in events if e["type"] == "concern")


@settings(max_examples=60, deadline=None)
@given(persona=personas("merchant_recruitment"), fault=st.sampled_from(sorted(A.FAULT_ACTS)), data=st.data())
def test_faulty_messages_never_help(persona, fault, data):
    state = data.draw(user_states(persona))
    extra = data.draw(agent_acts(PACK))
    new, _, _ = transition(state, [AgentAct(fault), *extra], persona, np.random.default_rng(0), RULES)
    assert new.trust <= state.trust
    assert new.statuses == state.statuses
    assert new.stage != "accepted"


def test_closing_with_unresolved_concerns_costs_trust_and_two_failed_closes_end_the_call():
    persona = sample_persona(PACK, 5)
    state = initial_state(persona, RULES)
    rng = np.random.default_rng(0)
    first, events, reply = transition(state, [AgentAct(A.CLOSE)], persona, rng, RULES)
    assert first.trust < state.trust
    assert reply.act in ("object", "vague_objection")
    assert any(e["type"] == "failed_close" for e in events)
    second, _, reply = transition(first, [AgentAct(A.CLOSE)], persona, rng, RULES)
    assert second.stage == "rejected" and reply.act == "reject"


def test_resolving_every_concern_then_closing_is_accepted():
    candidates = (sample_persona(PACK, i) for i in range(200))
    persona = next(p for p in candidates if all(c.disclosure == "open" for c in p.concerns))
    rng = np.random.default_rng(0)
    state = initial_state(persona, RULES)
    for concern in persona.concerns:
        for _ in range(3):
            if state.statuses[persona.concerns.index(concern)] != "resolved":
                state, _, _ = transition(state, [AgentAct(A.ADDRESS, concern.id)], persona, rng, RULES)
    assert all(s == "resolved" for s in state.statuses)
    state, _, reply = transition(state, [AgentAct(A.CLOSE)], persona, rng, RULES)
    assert (state.stage, reply.act) == ("accepted", "accept")


def test_transition_refuses_a_finished_call_and_a_misaligned_state():
    persona = sample_persona(PACK, 0)
    state = initial_state(persona, RULES)
    done = state.__class__(**{**{f: getattr(state, f) for f in state.__slots__}, "stage": "hung_up"})
    with pytest.raises(ValueError, match="terminal"):
        transition(done, [AgentAct(A.GREET)], persona, np.random.default_rng(0), RULES)
    bad = state.__class__(**{**{f: getattr(state, f) for f in state.__slots__}, "statuses": ("latent",) * 9})
    with pytest.raises(ValueError, match="statuses"):
        transition(bad, [AgentAct(A.GREET)], persona, np.random.default_rng(0), RULES)


def test_rules_defaults_are_the_packs_when_it_overrides_nothing():
    assert Rules() == RULES


# -- what the quality of an act is worth ---------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(
    persona=personas("merchant_recruitment"),
    data=st.data(),
    act=st.sampled_from(sorted(A.TOPICAL_ACTS)),
    quality=st.sampled_from(sorted(A.NON_ANSWERS)),
)
def test_a_non_answer_never_resolves_addresses_or_builds_trust(persona, data, act, quality):
    state = data.draw(user_states(persona))
    topic = data.draw(st.sampled_from([*PACK.concern_ids, "not_a_topic"]))
    new, _, _ = transition(state, [AgentAct(act, topic, quality)], persona, np.random.default_rng(0), RULES)
    assert new.trust <= state.trust
    assert new.times_addressed == state.times_addressed
    for before, after in zip(state.statuses, new.statuses, strict=True):
        assert after == before or (before == "latent" and after == "voiced")


@settings(max_examples=100, deadline=None)
@given(persona=personas("merchant_recruitment"), data=st.data())
def test_formulaic_or_spent_rapport_and_empty_offers_never_build_trust(persona, data):
    state = data.draw(user_states(persona))
    rng = np.random.default_rng(0)
    for acts in (
        [AgentAct(A.EMPATHIZE, None, A.FORMULAIC)],
        [AgentAct(A.OFFER, None, A.EMPTY)],
    ):
        assert transition(state, acts, persona, rng, RULES)[0].trust <= state.trust
    spent = replace(state, empathies=RULES.paid_empathies, small_talks=RULES.paid_small_talks)
    for acts in ([AgentAct(A.EMPATHIZE, None, A.RESPONSIVE)], [AgentAct(A.SMALL_TALK)]):
        assert transition(spent, acts, persona, rng, RULES)[0].trust <= spent.trust
    # Past the paid ones, even fresh words of sympathy cost (a new wording each turn is a script too).
    after = transition(spent, [AgentAct(A.EMPATHIZE, None, A.RESPONSIVE)], persona, rng, RULES)[0]
    assert after.trust < spent.trust or spent.trust == 0.0


def test_responsive_empathy_pays_only_after_something_to_respond_to():
    persona = sample_persona(PACK, 0)
    state = replace(initial_state(persona, RULES), last_user_act="guarded_reply")
    empathy = [AgentAct(A.EMPATHIZE, None, A.RESPONSIVE)]
    heard, _, reply = transition(state, empathy, persona, np.random.default_rng(0), RULES)
    assert heard.trust > state.trust and reply.act == "feel_heard"
    idle = replace(state, last_user_act="listen")
    assert transition(idle, empathy, persona, np.random.default_rng(0), RULES)[0].trust < idle.trust


def test_only_a_substantive_answer_settles_a_voiced_concern():
    persona = next(p for p in map(lambda i: sample_persona(PACK, i), range(100)) if p.concerns[0].severity < 3)
    concern = persona.concerns[0].id
    state = replace(
        initial_state(persona, RULES), trust=0.5, statuses=("voiced",) + ("latent",) * (len(persona.concerns) - 1)
    )
    rng = np.random.default_rng(0)
    for quality in sorted(A.NON_ANSWERS):
        new, _, reply = transition(state, [AgentAct(A.ADDRESS, concern, quality)], persona, rng, RULES)
        assert new.statuses[0] == "voiced" and reply.act == "follow_up"
    new, _, reply = transition(state, [AgentAct(A.ADDRESS, concern, A.SUBSTANTIVE)], persona, rng, RULES)
    assert new.statuses[0] == "resolved" and reply.act == "resolved"


def test_pressure_adds_up():
    persona = sample_persona(PACK, 0)
    state = initial_state(persona, RULES)
    costs = []
    rng = np.random.default_rng(0)
    for _ in range(3):
        new, _, _ = transition(state, [AgentAct(A.OFFER, None, A.EMPTY)], persona, rng, RULES)
        costs.append(state.trust - new.trust)
        state = new
    assert costs[0] == 0 and 0 < costs[1] < costs[2]


def test_a_probe_on_a_hidden_concern_is_evidence_not_certainty():
    """A deep concern below the hint threshold: the user mostly denies it as a user without it
    does (same act, same effect on trust and patience); users without it sometimes hedge."""
    persona = next(p for p in map(lambda i: sample_persona(PACK, i), range(400)) if p.concerns[0].disclosure == "deep")
    held = persona.concerns[0].id
    unheld = next(c for c in PACK.concern_ids if c not in {c.id for c in persona.concerns})
    state = replace(initial_state(persona, RULES), trust=0.3)
    replies = {held: [], unheld: []}
    for seed in range(400):
        for topic in replies:
            new, _, reply = transition(state, [AgentAct(A.PROBE, topic)], persona, np.random.default_rng(seed), RULES)
            replies[topic].append((reply.act, round(new.trust, 6), new.patience))
            assert reply.concern is None and new.statuses == state.statuses
    tell = RULES.hidden_probe_tell * 0.3 / RULES.deep_hint_trust
    guarded = [r for r in replies[held] if r[0] == "guarded_reply"]
    assert abs(len(guarded) / 400 - tell) < 0.07
    assert {r for r in replies[held] if r[0] == "deny_topic"} == {r for r in replies[unheld] if r[0] == "deny_topic"}
    hedged = sum(r[0] == "guarded_reply" for r in replies[unheld]) / 400
    assert abs(hedged - RULES.evasive_probe_chance) < 0.05


def test_a_guarded_concern_is_sometimes_denied_while_trust_is_low():
    persona = next(
        p for p in map(lambda i: sample_persona(PACK, i), range(400)) if p.concerns[0].disclosure == "guarded"
    )
    state = replace(initial_state(persona, RULES), trust=0.2)
    probe = [AgentAct(A.PROBE, persona.concerns[0].id)]
    replies = [transition(state, probe, persona, np.random.default_rng(seed), RULES)[2].act for seed in range(400)]
    expected = RULES.guarded_probe_deflect * (1 - 0.2 / RULES.guarded_voice_trust)
    assert abs(replies.count("deny_topic") / 400 - expected) < 0.06
    assert set(replies) == {"deny_topic", "hint"}
    trusted = replace(state, trust=RULES.guarded_voice_trust)
    assert transition(trusted, probe, persona, np.random.default_rng(0), RULES)[2].act == "voice"


def test_an_answer_unasked_is_no_surer_a_probe_than_a_question():
    """An answer to a guarded concern the user has not shared draws a hint, or, with the probe's
    deflection chance, the very miss a user without the concern gives (same act, trust, patience)."""
    persona = next(
        p for p in map(lambda i: sample_persona(PACK, i), range(400)) if p.concerns[0].disclosure == "guarded"
    )
    unheld = next(c for c in PACK.concern_ids if c not in {c.id for c in persona.concerns})
    state = replace(initial_state(persona, RULES), trust=0.2)
    replies = {persona.concerns[0].id: [], unheld: []}
    for seed in range(400):
        for topic, seen in replies.items():
            answer = [AgentAct(A.ADDRESS, topic, A.SUBSTANTIVE)]
            new, _, reply = transition(state, answer, persona, np.random.default_rng(seed), RULES)
            seen.append((reply.act, round(new.trust, 6), new.patience))
    held = replies[persona.concerns[0].id]
    expected = RULES.guarded_probe_deflect * (1 - 0.2 / RULES.guarded_voice_trust)
    misses = [r for r in held if r[0] == "not_relevant"]
    assert abs(len(misses) / 400 - expected) < 0.06
    assert set(misses) == set(replies[unheld]) and {r[0] for r in held} == {"not_relevant", "hint"}
    trusted = replace(state, trust=RULES.guarded_voice_trust)
    answer = [AgentAct(A.ADDRESS, persona.concerns[0].id, A.SUBSTANTIVE)]
    assert transition(trusted, answer, persona, np.random.default_rng(0), RULES)[2].act == "hint"


def test_asking_again_about_what_the_user_said_earns_nothing():
    persona = sample_persona(PACK, 0)
    state = replace(initial_state(persona, RULES), statuses=("voiced",) + ("latent",) * (len(persona.concerns) - 1))
    new, _, reply = transition(
        state, [AgentAct(A.PROBE, persona.concerns[0].id)], persona, np.random.default_rng(0), RULES
    )
    assert new.trust == state.trust and reply.act == "voice"


def test_greeting_again_mid_call_is_idle_talk():
    for index in range(40):
        persona = sample_persona(PACK, index)
        rng = np.random.default_rng(index)
        greeted, _, _ = transition(initial_state(persona, RULES), [AgentAct(A.GREET)], persona, rng, RULES)
        again, _, _ = transition(greeted, [AgentAct(A.GREET)], persona, np.random.default_rng(0), RULES)
        chat, _, _ = transition(greeted, [AgentAct(A.SMALL_TALK)], persona, np.random.default_rng(0), RULES)
        assert greeted.trust > initial_state(persona, RULES).trust
        assert (again.trust, again.patience, again.small_talks) == (chat.trust, chat.patience, chat.small_talks)
