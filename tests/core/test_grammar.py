import re

from pydantic import BaseModel, Field

from gba_core.llm.grammar import json_schema_to_gbnf, literal
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
    assert any("char{0,300}" in body for body in g.values())  # task bound
    # required properties appear in schema order, none optional
    top = deref(g, "root")
    positions = [
        top.index(f'\\"{key}\\"')
        for key in ("context_information_summary", "thoughts", "task", "selected_tool")
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
