import datetime
import re

import pytest
from pydantic import BaseModel, Field

from gba_core.errors import ConfigError
from gba_core.llm.grammar import UnsupportedSchemaError, json_schema_to_gbnf, literal
from gba_core.schema import plan_schema


def rules(gbnf: str) -> dict[str, str]:
    return dict(line.split(" ::= ", 1) for line in gbnf.strip().splitlines())


def deref(g: dict[str, str], name: str) -> str:
    """Follow rules that only alias another rule."""
    while g[name] in g:
        name = g[name]
    return g[name]


def test_plan_grammar_has_enum_and_bounded_strings():
    g = rules(json_schema_to_gbnf(plan_schema(["final_answer", "search_wikipedia"])))
    enum_rule = next(body for body in g.values() if "final_answer" in body)
    assert enum_rule == '("\\"final_answer\\"" | "\\"search_wikipedia\\"") space'
    task_rule = g[
        re.search(r'"\\"task\\"" space ":" space ([a-z0-9-]+)', deref(g, "root")).group(1)
    ]
    assert task_rule == '"\\"" char{0,200} "\\"" space'  # FIELD_MAX_CHARS["task"]
    # required properties appear in schema order, none optional
    top = deref(g, "root")
    positions = [
        top.index(f'\\"{key}\\"')
        for key in ("selected_tool", "context_information_summary", "thoughts", "task")
    ]
    assert positions == sorted(positions)
    assert ")?" not in top


class Address(BaseModel):
    city: str
    zip_code: str | None = None


class Person(BaseModel):
    name: str = Field(max_length=20)
    age: int
    tags: list[str] = Field(max_length=3)
    home: Address
    friends: list["Person"] = []


def test_refs_optional_properties_arrays_and_recursion():
    g = rules(json_schema_to_gbnf(Person.model_json_schema()))
    assert "address" in g and "person" in g  # $defs became rules
    top = deref(g, "root")
    assert '"\\"home\\"" space ":" space address' in top
    assert '("," space "\\"friends\\""' in top  # optional, recursive list of persons
    assert g["person-friends"] == '"[" space (person ("," space person)*)? "]" space'
    address = deref(g, "address")
    assert '("," space "\\"zip_code\\""' in address  # optional property
    assert any("{0,2}" in body for body in g.values())  # maxItems 3 -> 1 + up to 2 more
    # every referenced rule is defined
    defined = set(g)
    for body in g.values():
        bare = re.sub(r'"(?:\\.|[^"\\])*"', " ", body)  # drop literals
        bare = re.sub(r"\[(?:\\.|[^\]\\])*\]", " ", bare)  # and character classes
        for word in re.findall(r"[a-z][a-z0-9-]*", bare):
            assert word in defined, f"{word} is not defined"


def test_literal_escapes():
    assert literal('say "hi"\n') == '"say \\"hi\\"\\n"'


class AllOptional(BaseModel):
    a: int = 1
    b: str = "x"
    c: bool = False


def test_objects_with_only_optional_properties_never_start_with_a_comma():
    g = rules(json_schema_to_gbnf(AllOptional.model_json_schema()))
    top = deref(g, "root")
    assert top == '"{" space (root-value-rest)? "}" space'
    # each rest-rule starts with a property, never with a comma
    rests = {name: body for name, body in g.items() if name.startswith("root-value-rest")}
    assert len(rests) == 3
    for body in rests.values():
        for alternative in body.split(" | "):
            assert not alternative.startswith('","')
    assert g["root-value-rest-3"] == '"\\"c\\"" space ":" space boolean'


class When(BaseModel):
    day: datetime.date
    at: datetime.datetime


def test_dates_and_datetimes_have_their_shape():
    g = rules(json_schema_to_gbnf(When.model_json_schema()))
    day = g["root-value-day"]
    assert day.startswith('"\\"" [0-9]{4} "-"')
    assert '"T"' in g["root-value-at"]


def test_small_integer_ranges_are_literal_choices():
    class Scores(BaseModel):
        rating: int = Field(ge=1, le=5)
        percent: int = Field(gt=-1, lt=101)
        unbounded: int = Field(ge=0)

    g = rules(json_schema_to_gbnf(Scores.model_json_schema()))
    assert g["root-value-rating"] == '("1" | "2" | "3" | "4" | "5") space'
    assert (
        g["root-value-percent"].startswith('("0" | "1" | "2"')
        and '"100")' in g["root-value-percent"]
    )
    assert "root-value-unbounded" not in g  # the plain integer rule


@pytest.mark.parametrize(
    ("schema", "named"),
    [
        (
            {
                "type": "object",
                "properties": {"a": {"type": "object", "properties": {"b": {"not": {}}}}},
            },
            "the 'not' keyword (at a.b)",
        ),
        ({"type": "object", "properties": {"x": {"type": "decimal"}}}, "type 'decimal' (at x)"),
        ({"$ref": "https://example.com/schema.json"}, "only local refs"),
        (
            {
                "type": "object",
                "properties": {"t": {"allOf": [{"type": "string"}, {"minLength": 2}]}},
            },
            "'allOf' with several schemas (at t)",
        ),
        (
            {"type": "array", "prefixItems": [{"type": "string"}]},
            "'prefixItems' keyword (at the top level)",
        ),
    ],
)
def test_a_schema_feature_the_converter_cannot_follow_is_named_with_its_place(schema, named):
    with pytest.raises(UnsupportedSchemaError) as info:
        json_schema_to_gbnf(schema)
    assert named in str(info.value)
    assert isinstance(info.value, ConfigError)  # the CLI prints it as one line


def test_an_object_that_takes_no_properties_is_the_empty_object():
    g = rules(
        json_schema_to_gbnf({"type": "object", "properties": {}, "additionalProperties": False})
    )
    assert deref(g, "root") == '"{" space "}" space'
