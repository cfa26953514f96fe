import pytest

from ptod_env.backends.clients import (
    ChatClient,
    ClientError,
    ClientTimeout,
    OpenAIChatClient,
    TransformersChatClient,
    make_client,
)

HELLO = [{"role": "user", "content": "hello"}]


def test_openai_client_returns_the_reply_and_sends_key_and_schema(chat_server, monkeypatch):
    monkeypatch.setenv("PTOD_TEST_KEY", "sk-test")
    chat_server.play(("reply", '{"utterance": "hi"}'))
    client = OpenAIChatClient(chat_server.base_url, "m", api_key_env="PTOD_TEST_KEY")
    assert client.complete(HELLO, max_tokens=5, json_schema={"type": "object"}) == '{"utterance": "hi"}'
    request = chat_server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer sk-test"
    assert request["body"]["model"] == "m" and request["body"]["max_tokens"] == 5
    assert request["body"]["response_format"]["json_schema"]["schema"] == {"type": "object"}


def test_openai_client_sends_no_key_when_the_variable_is_unset(chat_server, monkeypatch):
    monkeypatch.delenv("PTOD_TEST_KEY", raising=False)
    client = OpenAIChatClient(chat_server.base_url, "m", api_key_env="PTOD_TEST_KEY", response_format=False)
    client.complete(HELLO, json_schema={"type": "object"})
    assert chat_server.requests[0]["auth"] is None
    assert "response_format" not in chat_server.requests[0]["body"]


@pytest.mark.parametrize(
    ("step", "error"),
    [(("status", 500), ClientError), (("raw", b"<html>oops</html>"), ClientError), (("sleep", 1.0), ClientTimeout)],
    ids=["http-500", "not-a-completion", "timeout"],
)
def test_openai_client_failures_raise_client_errors(chat_server, step, error):
    chat_server.play(step)
    client = OpenAIChatClient(chat_server.base_url, "m", timeout=0.2)
    with pytest.raises(error):
        client.complete(HELLO)


def test_openai_client_connection_refused_is_a_client_error():
    client = OpenAIChatClient("http://127.0.0.1:9/v1", "m", timeout=1.0)
    with pytest.raises(ClientError):
        client.complete(HELLO)


def test_openai_batch_keeps_order(chat_server):
    chat_server.play(("reply", "a"))
    client = OpenAIChatClient(chat_server.base_url, "m", max_workers=3)
    assert client.complete_batch([HELLO] * 5) == ["a"] * 5
    assert len(chat_server.requests) == 5


@pytest.mark.parametrize(
    "kwargs",
    [{"base_url": "localhost:8000", "model": "m"}, {"base_url": "http://x/v1", "model": ""}],
)
def test_openai_client_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        OpenAIChatClient(**kwargs)


def test_bad_generation_settings_are_programmer_errors(chat_server):
    client = OpenAIChatClient(chat_server.base_url, "m")
    with pytest.raises(ValueError, match="max_tokens"):
        client.complete(HELLO, max_tokens=0)
    with pytest.raises(ValueError, match="temperature"):
        client.complete(HELLO, temperature=-1)


def test_make_client_builds_and_passes_through(chat_server):
    client = make_client({"kind": "openai", "base_url": chat_server.base_url, "model": "m"})
    assert isinstance(client, OpenAIChatClient) and isinstance(client, ChatClient)
    assert make_client(client) is client
    with pytest.raises(ValueError, match="unknown client kind"):
        make_client({"kind": "nope"})
    with pytest.raises(TypeError):
        make_client("openai")


def test_transformers_client_batches_a_tiny_random_model(tiny_chat_model):
    client = TransformersChatClient(tiny_chat_model)
    replies = client.complete_batch([HELLO, [{"role": "user", "content": "sign me up yes"}]], max_tokens=4)
    assert len(replies) == 2 and all(isinstance(r, str) for r in replies)
    assert client.complete(HELLO, max_tokens=4) == replies[0]  # greedy: the same prompt, the same reply


def test_transformers_client_reports_a_cut_generation_as_timeout(tiny_chat_model):
    client = TransformersChatClient(tiny_chat_model, timeout=1e-6)
    with pytest.raises(ClientTimeout):
        client.complete(HELLO, max_tokens=8)


def test_transformers_client_needs_a_local_directory(tmp_path):
    pytest.importorskip("transformers")
    with pytest.raises(FileNotFoundError, match="prepare-model"):
        TransformersChatClient(tmp_path / "missing")
