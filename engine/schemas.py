"""JSON Schemas for every kind of document in a knowledge base and for facts files.

These are the single source of truth for document structure: the loader validates
with them, and editors can use them (``badges schema``) for completion and inline
errors. Meaning (fact names, types, references) is checked by the loader after.
"""
from __future__ import annotations

DIALECT = "https://json-schema.org/draft/2020-12/schema"

_ID = {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$",
       "description": "lower-case words joined by hyphens"}
_FACT_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$",
              "description": "snake_case fact name"}
_ENUM_VALUE = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_]*$",
               "description": "snake_case value"}
_TEXT = {"type": "string", "minLength": 1}
_DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "ISO 8601 date"}
_VERSION = {"type": "string", "pattern": r"^\d+\.\d+\.\d+$", "description": "MAJOR.MINOR.PATCH"}

CITATION = {
    "type": "object",
    "required": ["source", "section"],
    "additionalProperties": False,
    "properties": {
        "source": {**_ID, "description": "an id from sources.yaml"},
        "section": _TEXT,
        "quote": {**_TEXT, "description": "a few words, verbatim from the source"},
    },
}

NODE_KINDS = ("all", "any", "not", "at_least", "conclusion", "fact")

CONDITION = {
    "type": "object",
    "required": ["id", "description"],
    "additionalProperties": False,
    "properties": {
        "id": _ID,
        "description": _TEXT,
        "cite": {"$ref": "#/$defs/citation"},
        "all": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/condition"}},
        "any": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/condition"}},
        "not": {"$ref": "#/$defs/condition"},
        "at_least": {"type": "integer"},
        "of": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/condition"}},
        "conclusion": _ID,
        "outcomes": {"type": "array", "minItems": 1, "uniqueItems": True, "items": _ENUM_VALUE,
                     "description": "for a graded conclusion: the outcomes that make this node hold"},
        "fact": _FACT_NAME,
        "op": {"enum": ["at_least", "more_than", "at_most", "less_than", "equals", "not_equals",
                        "is", "is_not", "one_of", "not_one_of", "includes", "excludes",
                        "includes_any", "includes_all", "includes_none"]},
        "value": {"type": ["number", "boolean", "string", "array"],
                  "items": {"type": "string"}},
        "other_fact": _FACT_NAME,
    },
}

LEVEL = {
    "type": "object",
    "required": ["outcome", "description", "condition"],
    "additionalProperties": False,
    "properties": {
        "outcome": _ENUM_VALUE,
        "description": _TEXT,
        "cite": {"$ref": "#/$defs/citation"},
        "condition": {"$ref": "#/$defs/condition"},
    },
}

CONCLUSION_KINDS = ["badge", "derived", "diagnostic", "recommendation", "level"]

CONCLUSION_FILE = {
    "$schema": DIALECT,
    "title": "badges conclusion rule file (badge, derived, diagnostic, recommendation or level)",
    "type": "object",
    "required": ["id", "kind", "name", "description", "version", "effective", "owner"],
    "additionalProperties": False,
    "properties": {
        "id": _ID,
        "kind": {"enum": CONCLUSION_KINDS},
        "name": _TEXT,
        "description": _TEXT,
        "version": _VERSION,
        "effective": _DATE,
        "owner": _TEXT,
        "cite": {"$ref": "#/$defs/citation"},
        "condition": {"$ref": "#/$defs/condition"},
        "levels": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/level"},
                   "description": "graded conclusions: tried in order, the first that holds wins"},
        "otherwise": {**_ENUM_VALUE, "description": "graded conclusions: the outcome when no level holds"},
    },
    # a graded conclusion has levels and otherwise; every other kind has one condition
    # (the loader reports keys that belong to the other shape)
    "if": {"properties": {"kind": {"const": "level"}}, "required": ["kind"]},
    "then": {"required": ["levels", "otherwise"]},
    "else": {"required": ["condition"]},
    "$defs": {"citation": CITATION, "condition": CONDITION, "level": LEVEL},
}

FACT_SCHEMA_FILE = {
    "$schema": DIALECT,
    "title": "badges fact schema",
    "type": "object",
    "required": ["facts"],
    "additionalProperties": False,
    "properties": {
        "facts": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "type", "description", "question"],
                "additionalProperties": False,
                "properties": {
                    "name": _FACT_NAME,
                    "type": {"enum": ["number", "integer", "percentage", "boolean", "enum",
                                      "enum_list", "date", "text"]},
                    "unit": _TEXT,
                    "description": _TEXT,
                    "question": _TEXT,
                    "values": {"type": "array", "minItems": 1, "uniqueItems": True, "items": _ENUM_VALUE},
                    "range": {"type": "array", "minItems": 2, "maxItems": 2,
                              "items": {"type": ["number", "null"]}},
                    "context": {"type": "boolean",
                                "description": "recorded for context, reports and comparisons; no rule reads it"},
                },
            },
        }
    },
}

KB_FILE = {
    "$schema": DIALECT,
    "title": "badges knowledge base manifest",
    "type": "object",
    "required": ["name", "version", "packs"],
    "additionalProperties": False,
    "properties": {
        "name": _TEXT,
        "version": _VERSION,
        "description": _TEXT,
        "packs": {"type": "array", "minItems": 1, "uniqueItems": True, "items": _ID},
    },
}

PACK_FILE = {
    "$schema": DIALECT,
    "title": "badges rule pack manifest",
    "type": "object",
    "required": ["id", "name", "entity", "version"],
    "additionalProperties": False,
    "properties": {
        "id": _ID,
        "name": _TEXT,
        "entity": _ID,
        "version": _VERSION,
        "description": _TEXT,
        "order": {"type": "array", "uniqueItems": True, "items": _ID,
                  "description": "conclusion ids in the order tables and reports show them"},
    },
}

SOURCES_FILE = {
    "$schema": DIALECT,
    "title": "badges cited sources",
    "type": "object",
    "required": ["sources"],
    "additionalProperties": False,
    "properties": {
        "sources": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "title", "file"],
                "additionalProperties": False,
                "properties": {"id": _ID, "title": _TEXT, "file": _TEXT},
            },
        }
    },
}

EVIDENCE_SOURCES = ("audited_report", "site_visit", "self_reported", "third_party_rating",
                    "published_report", "kiva_api")

FACTS_FILE = {
    "$schema": DIALECT,
    "title": "badges facts file: one entity",
    "type": "object",
    "required": ["kind", "id", "name", "facts"],
    "additionalProperties": False,
    "properties": {
        "kind": _ID,
        "id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
        "name": _TEXT,
        "description": _TEXT,
        "facts": {
            "type": "object",
            "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
            "additionalProperties": {
                "anyOf": [
                    {"type": ["number", "boolean", "string", "array"]},
                    {
                        "type": "object",
                        "required": ["value"],
                        "additionalProperties": False,
                        "properties": {
                            "value": {"type": ["number", "boolean", "string", "array"]},
                            "source": {"enum": list(EVIDENCE_SOURCES)},
                            "as_of": _DATE,
                            "reference": _TEXT,
                            "note": _TEXT,
                        },
                    },
                ]
            },
        },
    },
}

TESTS_FILE = {
    "$schema": DIALECT,
    "title": "badges rule tests",
    "type": "object",
    "required": ["tests"],
    "additionalProperties": False,
    "properties": {
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "conclusion", "facts", "expect"],
                "additionalProperties": False,
                "properties": {
                    "id": _ID,
                    "description": _TEXT,
                    "conclusion": _ID,
                    "facts": FACTS_FILE["properties"]["facts"],
                    "expect": {**_ENUM_VALUE, "description": "the outcome the conclusion must reach, e.g. granted"},
                    "deciding": {"type": "array", "items": _ID},
                },
            },
        }
    },
}

ALL = {
    "conclusion": CONCLUSION_FILE,
    "facts-schema": FACT_SCHEMA_FILE,
    "kb": KB_FILE,
    "pack": PACK_FILE,
    "sources": SOURCES_FILE,
    "facts": FACTS_FILE,
    "tests": TESTS_FILE,
}
