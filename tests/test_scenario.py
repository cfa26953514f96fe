"""Scenario packs: validation errors name the file, the field and the fix; shipped packs are
internally consistent (every line the agents speak is understood as what it is meant to be)."""

import json
from pathlib import Path

import pytest
import yaml

from ptod_env.persona import TEST_USERS, sample_persona
from ptod_env.scenario import ScenarioError, load_scenario, shipped_scenarios
from ptod_env.speech import line_fields
from ptod_env.understanding import LexicalUnderstanding

SHIPPED = shipped_scenarios()


def test_both_paper_domains_ship():
    assert {"merchant_recruitment", "courier_recruitment"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_pack_is_rich_enough(name):
    pack = load_scenario(name)
    assert len(pack.concerns) >= 8
    assert len(pack.correlations) >= 5
    for act, by_style in pack.templates.items():
        for style, lines in by_style.items():
            assert len(set(lines)) >= 2, (act, style)


@pytest.mark.parametrize("name", SHIPPED)
def test_concern_lines_are_understood_as_their_own_topic(name):
    pack = load_scenario(name)
    understand = LexicalUnderstanding(pack).understand
    for spec in pack.concerns:
        for probe in spec.probes:
            assert understand(probe, []) == [("probe", spec.id, None)], probe
        for answer in spec.answers:
            acts = understand(answer, [])
            assert {a.topic for a in acts if a.topic} == {spec.id}, (answer, acts)
            assert {a.act for a in acts if a.topic} <= {"address", "offer"}, (answer, acts)


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("kind", ["greet", "probe_open", "empathize", "close", "pitch"])
def test_agent_lines_are_understood_as_their_act(name, kind):
    pack = load_scenario(name)
    understand = LexicalUnderstanding(pack).understand
    for line in pack.agent_lines[kind]:
        line = line.format(**line_fields(pack, "Sam Lee"))
        assert kind in {a.act for a in understand(line, [])}, line


@pytest.mark.parametrize("name", SHIPPED)
def test_personas_are_deterministic_and_correlated_with_the_brief(name):
    pack = load_scenario(name)
    assert sample_persona(pack, 42) == sample_persona(pack, 42)
    personas = [sample_persona(pack, i) for i in range(TEST_USERS)]
    assert all(1 <= len(p.concerns) <= 3 for p in personas)
    # Correlations must make the public facts informative: a concern is more frequent where a
    # correlation with a factor > 1 fires than where it does not.
    corr = max(pack.correlations, key=lambda c: c.factor)
    key = corr.field.split(".", 1)
    hit = [p for p in personas if corr.matches(getattr(p, key[0])[key[1]])]
    miss = [p for p in personas if not corr.matches(getattr(p, key[0])[key[1]])]
    rate = lambda group: sum(corr.concern in {c.id for c in p.concerns} for p in group) / max(len(group), 1)  # noqa: E731
    assert rate(hit) > rate(miss)


def write(tmp_path, merchant_path, edit, suffix=".yaml"):
    data = yaml.safe_load(Path(merchant_path).read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / f"pack{suffix}"
    path.write_text(json.dumps(data) if suffix == ".json" else yaml.safe_dump(data), encoding="utf-8")
    return path


BAD_EDITS = [
    (lambda d: d.pop("concerns"), "field 'concerns': missing"),
    (lambda d: d.update(schema_version=7), "field 'schema_version'"),
    (lambda d: d["concerns"][2].pop("hints"), r"field 'concerns\[2\].hints': missing"),
    (lambda d: d["concerns"][0].update(severity={"choices": [1, 5]}), r"concerns\[0\].severity"),
    (
        lambda d: d["concerns"][1].update(hints=["Nothing to see here.", "Still nothing."]),
        r"concerns\[1\].hints\[0\].*mentions none",
    ),
    (lambda d: d["concerns"][1].update(id=d["concerns"][0]["id"]), "duplicate ids"),
    (
        lambda d: d["concerns"][1]["keywords"].append("commission"),
        r"concerns\[1\].keywords.*also a keyword of 'commission'",
    ),
    (lambda d: d["traits"].update(talk_style={"choices": ["shouty"]}), "traits.talk_style.choices"),
    (lambda d: d["traits"]["mood"].update(weights=[1, -1, 1]), "traits.mood.weights"),
    (lambda d: d["templates"]["accept"].update(terse=["Deal, {nmae}!", "ok"]), r"templates.accept.terse\[0\].*nmae"),
    (lambda d: d["templates"].pop("hang_up"), "templates.hang_up"),
    (
        lambda d: d["templates"]["listen"].update(terse=["Go on, the kitchen waits.", "ok"]),
        r"listen.terse\[0\].*'kitchen'",
    ),
    (lambda d: d.update(prompts={"speech_user": "Say {line} to {victim}"}), r"prompts.speech_user.*victim"),
    (lambda d: d.update(prompts={"pep_talk": "Go!"}), "prompts.pep_talk.*unknown prompt"),
    (lambda d: d["templates"].update(dance={"terse": ["a", "b"]}), "templates.dance.*unknown user act"),
    (
        lambda d: d["correlations"].append(
            {"when": {"field": "traits.mood", "equals": "x"}, "concern": "ghost", "factor": 2}
        ),
        "unknown concern 'ghost'",
    ),
    (
        lambda d: d["correlations"].append(
            {"when": {"field": "traits.zodiac", "equals": "x"}, "concern": "commission", "factor": 2}
        ),
        "unknown field 'traits.zodiac'",
    ),
    (lambda d: d.update(brief="Call {nickname} now."), "field 'brief'.*nickname"),
    (lambda d: d.update(dynamics={"accept_trust": "high"}), "dynamics.accept_trust"),
    (lambda d: d.update(dynamics={"luck": 1}), "dynamics.luck.*unknown rule"),
    (lambda d: d["lexicon"].pop("close"), "lexicon.close"),
    (lambda d: d["background"].update(years_open={"range": [9, 1]}), "background.years_open.range"),
]


@pytest.mark.parametrize(("edit", "match"), BAD_EDITS)
def test_bad_pack_names_file_field_and_fix(tmp_path, merchant, edit, match):
    path = write(tmp_path, merchant.source, edit)
    with pytest.raises(ScenarioError, match=match) as err:
        load_scenario(path)
    assert str(path.resolve()) in str(err.value) and "fix:" in str(err.value)


def test_json_packs_and_overrides_load(tmp_path, merchant):
    def edit(d):
        d.update(name="json_pack", dynamics={"accept_trust": 0.6}, prompts={"understanding_user": "Message: {text}"})

    pack = load_scenario(write(tmp_path, merchant.source, edit, ".json"))
    assert pack.name == "json_pack" and pack.rules.accept_trust == 0.6
    assert pack.prompts == {"understanding_user": "Message: {text}"}


@pytest.mark.parametrize("content", ["{unclosed: [", "- just\n- a list\n", "\x00\x01"])
def test_unparsable_or_wrong_shape_files_fail_clearly(tmp_path, content):
    path = tmp_path / "broken.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ScenarioError, match=str(path.name)):
        load_scenario(path)


def test_unknown_names_list_the_shipped_packs():
    with pytest.raises(ScenarioError, match="merchant_recruitment"):
        load_scenario("unknown_domain")
