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
    (lambda d: d.update(prompts={"pep_talk": "Go!"}), "prompts.pep_talk.*unknown field"),
    (lambda d: d["templates"].update(dance={"terse": ["a", "b"]}), "templates.dance.*unknown field"),
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
    # Numbers: finite and in range, found at load (not at reset or the first step).
    (lambda d: d["background"].update(years_open={"range": [1, 1000000000]}), r"years_open.range.*spans more than"),
    (lambda d: d["traits"].update(patience={"range": [0, 0]}), "traits.patience.*1..100"),
    (lambda d: d["traits"].update(patience={"choices": [-3, 10]}), "traits.patience.*1..100"),
    (lambda d: d.update(dynamics={"initial_trust": float("nan")}), r"dynamics.initial_trust.*\[0.0, 1.0\]"),
    (lambda d: d.update(dynamics={"accept_trust": 5}), r"dynamics.accept_trust.*\[0.0, 1.0\]"),
    (lambda d: d.update(dynamics={"topic_dump_threshold": 0}), r"dynamics.topic_dump_threshold.*\[2, 100\]"),
    (lambda d: d.update(dynamics={"max_failed_closes": 1.5}), "dynamics.max_failed_closes.*an integer"),
    (lambda d: d.update(dynamics={"greet_trust": float("inf")}), "dynamics.greet_trust"),
    (lambda d: d.update(dynamics={"reject_trust": 0.6}), "reject_trust 0.6 >= accept_trust"),
    (lambda d: d["traits"]["mood"].update(weights=[1, float("inf"), 1]), "traits.mood.weights.*finite"),
    (lambda d: d["traits"]["mood"].update(weights=[0, 0, 0]), "traits.mood.weights.*positive sum"),
    (lambda d: [c.update(base_weight=0) for c in d["concerns"]], r"'concerns': 0 concerns have base_weight > 0"),
    (lambda d: d["concerns"][0].update(base_weight=float("nan")), r"concerns\[0\].base_weight.*finite"),
    (lambda d: d["correlations"][0].update(factor=float("inf")), r"correlations\[0\].factor"),
    (lambda d: d["correlations"][0].update(factor=0), r"correlations\[0\].factor.*no concern"),
    (lambda d: d["concern_count"].update(choices=[1, 2, 4]), r"concern_count.choices.*1 to 3"),
    # Templates: placeholders and format specs.
    (lambda d: d["templates"]["hint"].update(terse=["{hint:q}", "{hint}"]), r"hint.terse\[0\].*format spec"),
    (lambda d: d["templates"]["hint"].update(terse=["{hint!z}", "{hint}"]), r"hint.terse\[0\].*conversion"),
    (lambda d: d["templates"]["accept"].update(terse=["{0}", "ok"]), r"accept.terse\[0\].*unknown placeholder \{0\}"),
    (lambda d: d["templates"]["accept"].update(terse=["{name.upper}", "ok"]), r"unknown placeholder \{name.upper\}"),
    (lambda d: d["agent_lines"]["greet"].append("Hi {nmae}!"), r"agent_lines.greet\[3\].*\{nmae\}"),
    (lambda d: d["agent_lines"]["greet"].append("Hi {name:>{width}}!"), r"agent_lines.greet\[3\]"),
    (lambda d: d["concerns"][0]["answers"].append("Our commission is {rate}."), r"answers\[2\].*\{rate\}"),
    (lambda d: d.update(brief="Call {name:q}, owner of {business_name}."), "field 'brief'.*format spec"),
    (lambda d: d.update(brief="Call {name}{city} now."), "field 'brief'.*no words between them"),
    # Shapes and values YAML makes easy to get wrong.
    (lambda d: d["background"]["name"].update(choices=["Maria Lopez", "  "]), r"background.name.choices\[1\]"),
    (lambda d: d["background"]["name"].update(choices=["Maria Lopez", None]), r"name.choices\[1\].*null"),
    (lambda d: d["traits"].update(pets={"choices": [True, False]}), r"traits.pets.choices\[0\].*quote the value"),
    (lambda d: d["traits"].update(pets={"choices": [[1, 2]]}), r"traits.pets.choices\[0\].*list"),
    (lambda d: d["background"]["city"].update(choices=["Riverside", "Oak\nport"]), r"city.choices\[1\].*line break"),
    (lambda d: d["background"]["city"].update(choices=["Riverside", "Zürich 東京"]), r"city.choices\[1\].*charset"),
    (lambda d: d["traits"]["mood"].update(choices=["wary", "odd: yes", "friendly"]), r"mood.choices\[1\].*'; '"),
    (
        lambda d: d["background"]["business_name"].update(choices=["Casa Verde, a pizza place"]),
        r"business_name.choices\[0\].*reads back from the brief",
    ),
    (lambda d: d["correlations"][0]["when"].update(at_least=None), r"correlations\[0\].when.at_least"),
    (
        lambda d: d["correlations"].append(
            {"when": {"field": "background.cuisine", "at_least": 3}, "concern": "commission", "factor": 2}
        ),
        r"at_most/at_least on background.cuisine, which has text choices",
    ),
    (
        lambda d: d["correlations"].append(
            {"when": {"field": "traits.mood", "equals": None}, "concern": "commission", "factor": 2}
        ),
        r"when.equals.*never matches",
    ),
    (
        lambda d: d["correlations"].append(
            {"when": {"field": "traits.mood", "equals": True}, "concern": "commission", "factor": 2}
        ),
        r"when.equals.*quote them",
    ),
    (
        lambda d: d["correlations"].append(
            {"when": {"field": "traits.mood", "equal": "wary"}, "concern": "commission", "factor": 2}
        ),
        r"when.equal.*unknown field",
    ),
    (lambda d: d.update(correlation=d.pop("correlations")), "field 'correlation': unknown field"),
    (lambda d: d["concerns"][0].update(keyword=["x"]), r"concerns\[0\].keyword': unknown field"),
    (lambda d: d.update(name="  "), "field 'name'.*non-empty string"),
    (lambda d: d.update(name="Pizza Partners"), "field 'name'.*not an identifier"),
    (lambda d: d.update(env_id="pizza partners"), "field 'env_id'.*Gymnasium id"),
    (lambda d: d.update(env_id="PizzaPartners"), "field 'env_id'.*Name-v0"),
    (
        lambda d: d["concerns"][0].update(keywords=["landlord", "rent"], hints=["My sublandlord is strict.", "rent"]),
        r"concerns\[0\].hints\[0\].*'sublandlord', which contains 'landlord'.*whole words",
    ),
    (lambda d: d["concerns"][0].update(severity={"choices": [True, 2]}), r"concerns\[0\].severity"),
    (lambda d: d["concerns"][0].update(label="the money thing"), r"concerns\[0\].label.*mentions none"),
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


def _billion_laughs() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\nconcerns: *a9\n"


def _merge_bomb() -> str:
    lines = ["m0: &m0 {x: 1, y: 2}"]
    for level in range(1, 40):
        lines.append(f"m{level}: &m{level} {{<<: [*m{level - 1}, *m{level - 1}], k{level}: 1}}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (_billion_laughs(), "more than 50000 values once its aliases"),
        (_merge_bomb(), "more than 50000 values once its aliases"),
        ("a: &a [1, *a]\n", "refers to a value that contains it"),
        ("[" * 20_000 + "]" * 20_000, "nested too deeply|not valid YAML|expected a mapping"),
        ("name: x\nbinary: !!python/object:os.system ls\n", "not valid YAML"),
    ],
)
def test_hostile_yaml_fails_fast_and_clearly(tmp_path, content, match):
    path = tmp_path / "bomb.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ScenarioError, match=match):
        load_scenario(path)


def test_oversized_deep_and_non_utf8_files_fail_clearly(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * 200_000, encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"more than 1048576.*1 MiB"):
        load_scenario(big)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(ScenarioError, match="nested too deeply"):
        load_scenario(deep)
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ScenarioError, match=r"not UTF-8 text \(byte 0xe9 at offset 9\); fix: save the file as UTF-8"):
        load_scenario(latin)
