import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import gymnasium as gym
import pytest

import ptod_env  # noqa: F401  (registers the env ids)
from ptod_env.scenario import load_scenario


@pytest.fixture(scope="session")
def merchant():
    return load_scenario("merchant_recruitment")


@pytest.fixture
def env():
    env = gym.make("ProactiveSales-v0")
    yield env
    env.close()


EXAMPLE_PACK = Path(__file__).parents[1] / "examples" / "scenarios" / "home_solar.yaml"


@pytest.fixture(scope="session")
def example_pack(tmp_path_factory):
    """examples/scenarios/home_solar.yaml under a name and id of its own, so the tests that
    register it also pass with the example dropped into ptod_env/scenarios/."""
    text = EXAMPLE_PACK.read_text(encoding="utf-8")
    text = text.replace("name: home_solar", "name: example_solar").replace("-HomeSolar-v0", "-ExampleSolar-v0")
    path = tmp_path_factory.mktemp("packs") / "example_solar.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


class FakeChatServer:
    """A chat-completions server on 127.0.0.1 that answers from a script.

    Each request takes the next step of ``script`` (the last one repeats): ``("reply", text)``
    answers with ``text`` as the assistant's content, ``("status", code)`` fails with that HTTP
    status, ``("sleep", seconds)`` answers only after a delay, ``("raw", body)`` sends a body that
    is not a chat completion.
    """

    def __init__(self):
        self.script: deque[tuple[str, object]] = deque([("reply", "{}")])
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                kind, value = server.script.popleft() if len(server.script) > 1 else server.script[0]
                if kind == "status":
                    self.send_response(value)
                    self.end_headers()
                    self.wfile.write(b"internal error")
                    return
                if kind == "sleep":
                    time.sleep(value)
                    value = "{}"
                payload = value if kind == "raw" else json.dumps({"choices": [{"message": {"content": value}}]})
                data = payload.encode() if isinstance(payload, str) else payload
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        class QuietServer(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that timed out has closed its socket: nothing to report

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def play(self, *steps: tuple[str, object]) -> None:
        self.script = deque(steps)
        self.requests.clear()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat_server():
    server = FakeChatServer()
    yield server
    server.close()
