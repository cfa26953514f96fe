"""Property tests of the cognitive state machine (ptod_env.dynamics)."""

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
