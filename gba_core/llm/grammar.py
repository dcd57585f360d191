"""JSON schema -> llama.cpp GBNF grammar.

Written for the schemas gba hands to models (pydantic's output): objects with
``properties`` / ``required``, ``$ref`` into ``$defs``, ``enum`` / ``const``, ``anyOf`` /
``oneOf``, type lists, arrays with item bounds, and strings with length bounds.
Differences from llama-cpp-python's converter that matter here:

* length bounds use GBNF's ``{m,n}`` repetition (the stock converter nests ``n``
  optional groups, which for a 500-character bound is a 500-deep grammar stack);
* numbers have bounded digit counts and strings exclude raw control characters, so
  a degenerate model cannot write digits or newlines until ``max_tokens`` cuts the JSON;
* whitespace between tokens is at most one space (no pretty-printing tokens to pay for).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from gba_core.errors import ConfigError

PRIMITIVES = {
    "space": '" "?',
    "char": r'[^"\\\x00-\x1F\x7F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})',
    "integer": '"-"? ("0" | [1-9] [0-9]{0,15}) space',
    "number": '"-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})? space',
    "boolean": '("true" | "false") space',
    "null": '"null" space',
    "string": '"\\"" char* "\\"" space',
    "value": "object | array | string | number | boolean | null",
    "object": '"{" space (string ":" space value ("," space string ":" space value)*)? "}" space',
    "array": '"[" space (value ("," space value)*)? "]" space',
}


_DATE = '[0-9]{4} "-" [0-1] [0-9] "-" [0-3] [0-9]'
_TIME = '[0-2] [0-9] ":" [0-5] [0-9] (":" [0-5] [0-9] ("." [0-9]{1,6})?)?'
_ZONE = '("Z" | [+-] [0-2] [0-9] ":" [0-5] [0-9])'
MAX_INTEGER_CHOICES = 256

# Keywords that restrict values in ways a grammar of this converter does not follow: left
# out silently, the model would write values the schema forbids. The ones it drops
# without harm (pattern, minimum, format names it does not know) the tool itself checks.
_UNFOLLOWED = (
    "not",
    "if",
    "prefixItems",
    "contains",
    "dependentSchemas",
    "dependentRequired",
    "patternProperties",
    "unevaluatedProperties",
)


class UnsupportedSchemaError(ConfigError, ValueError):
    """A JSON schema feature the converter cannot turn into a grammar: ``feature`` names
    it, ``where`` is its place in the schema (``properties.x.items``)."""

    def __init__(self, feature: str, where: str) -> None:
        super().__init__(f"{feature} (at {where})")
        self.feature = feature
        self.where = where


def _where(hint: str) -> str:
    return hint.removeprefix("root-value").lstrip("-").replace("-", ".") or "the top level"


def _small_integer_range(schema: dict[str, Any]) -> range | None:
    """The allowed values of an integer with both bounds and few values, else None."""
    low = schema.get("minimum")
    high = schema.get("maximum")
    if "exclusiveMinimum" in schema:
        low = math.floor(schema["exclusiveMinimum"]) + 1
    if "exclusiveMaximum" in schema:
        high = math.ceil(schema["exclusiveMaximum"]) - 1
    if low is None or high is None:
        return None
    low, high = math.ceil(low), math.floor(high)
    if high < low or high - low + 1 > MAX_INTEGER_CHOICES:
        return None
    return range(low, high + 1)


# String formats pydantic emits for date, time, datetime and UUID fields; other formats
# (and pattern, and number bounds beyond small integer ranges) are left to pydantic's
# validation of the result.
STRING_FORMATS = {
    "date": _DATE,
    "time": f"{_TIME} {_ZONE}?",
    "date-time": f'{_DATE} "T" {_TIME} {_ZONE}?',
    "uuid": '[0-9a-f]{8} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{12}',
}


def literal(text: str) -> str:
    """A GBNF string literal matching ``text`` exactly."""
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


class _Converter:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.rules: dict[str, str] = {}
        self._refs: dict[str, str] = {}

    def _name(self, hint: str) -> str:
        base = re.sub(r"[^a-zA-Z0-9]+", "-", hint).strip("-").lower() or "rule"
        name, i = base, 1
        while name in self.rules or name in PRIMITIVES:
            i += 1
            name = f"{base}-{i}"
        return name

    def _primitive(self, name: str) -> str:
        # Pull in a primitive and every primitive it refers to.
        if name not in self.rules:
            self.rules[name] = PRIMITIVES[name]
            for word in re.findall(r"\b[a-z]+\b", PRIMITIVES[name].replace('"', " ")):
                if word in PRIMITIVES and word != name:
                    self._primitive(word)
        return name

    def _rule(self, hint: str, body: str) -> str:
        name = self._name(hint)
        self.rules[name] = body
        return name

    def _resolve(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#/"):
            raise UnsupportedSchemaError(f"$ref to {ref!r} (only local refs)", "a $ref")
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node[part]
        return node

    def visit(self, schema: dict[str, Any], hint: str) -> str:
        """Returns a GBNF expression (usually a rule name) matching ``schema``."""
        if schema is True or schema == {}:
            return self._primitive("value")
        if not isinstance(schema, dict):
            raise UnsupportedSchemaError(f"schema {schema!r}", _where(hint))
        for keyword in _UNFOLLOWED:
            if keyword in schema:
                raise UnsupportedSchemaError(f"the {keyword!r} keyword", _where(hint))
        if len(schema.get("allOf", ())) > 1:
            raise UnsupportedSchemaError("'allOf' with several schemas", _where(hint))
        if ref := schema.get("$ref"):
            if ref not in self._refs:
                name = self._name(ref.rsplit("/", 1)[-1])
                self._refs[ref] = name
                self.rules[name] = ""  # reserve: the definition may refer to itself
                self.rules[name] = self.visit(self._resolve(ref), name)
            return self._refs[ref]
        if "const" in schema:
            self._primitive("space")
            return self._rule(hint, literal(json.dumps(schema["const"])) + " space")
        if "enum" in schema:
            self._primitive("space")
            options = " | ".join(literal(json.dumps(v, ensure_ascii=False)) for v in schema["enum"])
            return self._rule(hint, f"({options}) space")
        for key in ("anyOf", "oneOf"):
            if key in schema:
                alts = [self.visit(s, f"{hint}-{i}") for i, s in enumerate(schema[key])]
                return self._rule(hint, " | ".join(alts))
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.visit(schema["allOf"][0], hint)
        kind = schema.get("type")
        if isinstance(kind, list):
            alts = [self.visit({**schema, "type": t}, f"{hint}-{t}") for t in kind]
            return self._rule(hint, " | ".join(alts))
        if kind == "object" or "properties" in schema:
            return self._object(schema, hint)
        if kind == "array":
            return self._array(schema, hint)
        if kind == "string":
            return self._string(schema, hint)
        if kind == "integer" and (choices := _small_integer_range(schema)) is not None:
            # A rating from 1 to 5 is one of five literals: a model cannot write 7.
            self._primitive("space")
            return self._rule(hint, "(" + " | ".join(f'"{v}"' for v in choices) + ") space")
        if kind in ("integer", "number", "boolean", "null"):
            return self._primitive(kind)
        raise UnsupportedSchemaError(
            f"type {kind!r}" if kind else f"a schema without a type: {json.dumps(schema)[:80]}",
            _where(hint),
        )

    def _string(self, schema: dict[str, Any], hint: str) -> str:
        if (fmt := schema.get("format")) in STRING_FORMATS:
            self._primitive("space")
            return self._rule(hint, f'"\\"" {STRING_FORMATS[fmt]} "\\"" space')
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        if not low and high is None:
            return self._primitive("string")
        self._primitive("char")
        self._primitive("space")
        bound = f"{{{low},{high}}}" if high is not None else f"{{{low},}}"
        return self._rule(hint, f'"\\"" char{bound} "\\"" space')

    def _array(self, schema: dict[str, Any], hint: str) -> str:
        self._primitive("space")
        item = self.visit(schema.get("items", {}), f"{hint}-item")
        low, high = schema.get("minItems", 0), schema.get("maxItems")
        more = f'("," space {item})'
        if high == 0:
            body = '"[" space "]" space'
        elif low == 0:
            tail = f"{more}{{0,{high - 1}}}" if high is not None else f"{more}*"
            body = f'"[" space ({item} {tail})? "]" space'
        else:
            tail = (
                f"{more}{{{low - 1},{high - 1}}}" if high is not None else f"{more}{{{low - 1},}}"
            )
            body = f'"[" space {item} {tail} "]" space'
        return self._rule(hint, body)

    def _object(self, schema: dict[str, Any], hint: str) -> str:
        self._primitive("space")
        props: dict[str, Any] = schema.get("properties", {})
        if not props and schema.get("additionalProperties") is False:
            return self._rule(hint, '"{" space "}" space')  # an object that takes nothing
        if not props:
            return self._primitive("object")
        required = [p for p in props if p in schema.get("required", [])]
        optional = [p for p in props if p not in required]
        pairs = {
            p: f'{literal(json.dumps(p))} space ":" space {self.visit(s, f"{hint}-{p}")}'
            for p, s in props.items()
        }
        body = ' "," space '.join(pairs[p] for p in required)
        if optional and required:
            # Optional properties keep schema order after the required ones; each may be
            # left out, and each brings its own leading comma.
            body += "".join(f' ("," space {pairs[p]})?' for p in optional)
        elif optional:
            # No required property to lead: whichever optional property comes first
            # must not have a comma. rest-i = "some of the optional properties from i on".
            names = []
            for _ in optional:
                names.append(self._name(f"{hint}-rest"))
                self.rules[names[-1]] = ""  # reserve the name
            for i in range(len(optional) - 1, -1, -1):
                alts = [
                    pairs[optional[i]]
                    + (f' ("," space {names[i + 1]})?' if i + 1 < len(optional) else "")
                ]
                if i + 1 < len(optional):
                    alts.append(names[i + 1])
                self.rules[names[i]] = " | ".join(alts)
            body = f"({names[0]})?"
        return self._rule(hint, f'"{{" space {body} "}}" space')


def json_schema_to_gbnf(schema: dict[str, Any]) -> str:
    converter = _Converter(schema)
    top = converter.visit(schema, "root-value")
    lines = [f"root ::= {top}"]
    lines += [f"{name} ::= {body}" for name, body in converter.rules.items()]
    return "\n".join(lines) + "\n"
