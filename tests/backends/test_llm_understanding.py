import json

import gymnasium as gym
import pytest

from ptod_env.acts import AgentAct
from ptod_env.backends.clients import OpenAIChatClient
from ptod_env.backends.llm_understanding import LLMUnderstanding, understanding_schema
from ptod_env.understanding import make_understanding

PARAPHRASE = "Could your cooks keep up if orders doubled on a Friday night?"


def acts_reply(*acts):
    return json.dumps({"acts": [{"act": a, "topic": t} for a, t in acts]})


@pytest.fixture
def backend(chat_server, merchant):
    return LLMUnderstanding(merchant, OpenAIChatClient(chat_server.base_url, "m", timeout=0.3), retries=1)


def test_valid_reply_becomes_acts(chat_server, backend):
    chat_server.play(("reply", acts_reply(("empathize", None), ("probe", "kitchen_capacity"))))
    assert backend.understand(PARAPHRASE, []) == [AgentAct("empathize"), AgentAct("probe", "kitchen_capacity")]
    assert backend.stats() == {**backend.stats(), "calls": 1, "retries": 0, "fallbacks": 0}
    body = chat_server.requests[0]["body"]
    assert body["messages"][0]["role"] == "system" and "kitchen_capacity" in body["messages"][0]["content"]
    assert PARAPHRASE in body["messages"][-1]["content"]
    assert body["response_format"]["json_schema"]["schema"] == understanding_schema(backend.pack)


def test_reply_in_code_fence_with_chatter_is_accepted(chat_server, backend):
    chat_server.play(("reply", "Sure!\n```json\n" + acts_reply(("close", None)) + "\n```"))
    assert backend.understand("So, are you in?", []) == [AgentAct("close")]


@pytest.mark.parametrize(
    ("step", "counter"),
    [
        (("reply", "the salesperson asks about the kitchen"), "malformed"),
        (("reply", "I'm sorry, but I can't help with that."), "refusals"),
        (("reply", acts_reply(("hypnotize", None))), "invalid"),
        (("reply", acts_reply(("probe", "weather"))), "invalid"),
        (("reply", acts_reply(("greet", "commission"))), "invalid"),
        (("reply", '{"acts": []}'), "invalid"),
        (("status", 500), "errors"),
        (("sleep", 1.0), "timeouts"),
    ],
    ids=[
        "malformed-json",
        "refusal",
        "unknown-act",
        "unknown-topic",
        "topic-on-untargeted-act",
        "no-acts",
        "http-500",
        "timeout",
    ],
)
def test_every_failure_is_counted_and_falls_back_to_the_default_reader(chat_server, backend, merchant, step, counter):
    chat_server.play(step)
    text = "Could your cooks keep up with the lunch rush right now?"
    assert backend.understand(text, []) == make_understanding("natural", merchant).understand(text, [])
    stats = backend.stats()
    assert stats[counter] == 2  # the first try and the retry
    assert stats["calls"] == 2 and stats["retries"] == 1 and stats["fallbacks"] == 1


def test_a_retry_that_succeeds_is_no_fallback(chat_server, backend):
    chat_server.play(("status", 500), ("reply", "nonsense"), ("reply", acts_reply(("small_talk", None))))
    backend.query.retries = 2
    assert backend.understand("Lovely weather, isn't it?", []) == [AgentAct("small_talk")]
    stats = backend.stats()
    assert (stats["errors"], stats["malformed"], stats["retries"], stats["fallbacks"]) == (1, 1, 2, 0)
    # The malformed reply and a correction went back to the model with the retry.
    last = chat_server.requests[-1]["body"]["messages"]
    assert last[-2] == {"role": "assistant", "content": "nonsense"} and "not valid" in last[-1]["content"]


@pytest.mark.parametrize(
    ("text", "act"),
    [("", "silence"), ("The customer agrees to sign up.", "manipulation"), ("commission " * 4, "keyword_stuffing")],
)
def test_ruled_faults_never_reach_the_model(chat_server, backend, text, act):
    assert backend.understand(text, []) == [AgentAct(act)]
    assert chat_server.requests == []


def test_repeat_is_ruled_before_the_model(chat_server, backend):
    assert backend.understand("So, are you in?", ["so, are you in"]) == [AgentAct("repeat")]
    assert chat_server.requests == []


def test_a_model_listing_many_topics_gets_a_topic_dump(chat_server, backend):
    topics = ["commission", "kitchen_capacity", "food_quality"]
    chat_server.play(("reply", acts_reply(*[("address", t) for t in topics])))
    assert backend.understand("We have great answers for everything you might worry about.", []) == [
        AgentAct("topic_dump")
    ]


def test_probe_without_topic_is_an_open_probe(chat_server, backend):
    chat_server.play(("reply", acts_reply(("probe", None))))
    assert backend.understand("What is on your mind?", []) == [AgentAct("probe_open")]


def test_env_episode_survives_a_broken_server(chat_server):
    chat_server.play(("status", 500))
    env = gym.make(
        "ProactiveSales-v0",
        understanding="llm",
        understanding_kwargs={
            "client": {"kind": "openai", "base_url": chat_server.base_url, "model": "m"},
            "retries": 0,
        },
    )
    env.reset(seed=0)
    _, _, _, _, info = env.step("Would your kitchen have the capacity for extra orders at peak hours?")
    assert info["agent_acts"] == [{"act": "probe", "topic": "kitchen_capacity", "quality": None}]
    assert info["backends"]["understanding"]["name"] == "LLMUnderstanding"
    assert info["backends"]["understanding"]["fallbacks"] == 1
    env.close()


def test_registered_by_name(chat_server, merchant):
    backend = make_understanding(
        "llm", merchant, client={"kind": "openai", "base_url": chat_server.base_url, "model": "m"}
    )
    assert isinstance(backend, LLMUnderstanding)


def test_a_client_spec_is_built_once_per_process(chat_server, merchant):
    spec = {"kind": "openai", "base_url": chat_server.base_url, "model": "m", "timeout": 0.3}
    first, second = LLMUnderstanding(merchant, spec), LLMUnderstanding(merchant, dict(spec))
    assert first.query.client is second.query.client
