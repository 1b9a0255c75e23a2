"""A compiled JSON Schema check for the many documents of a batch.

``jsonschema`` takes about 3 ms to validate one facts document; a validator compiled
by ``fastjsonschema`` takes about 30 µs, but compiling it costs about 0.2 s, so only
batches use it. It only answers *whether* a document conforms: a document that does not
is checked again by ``engine.validation.check_schema``, which says where and why.
"""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=None)
def _compiled(schema_name: str):
    import fastjsonschema

    from .schemas import ALL

    # The schemas use only keywords that mean the same in draft 7, which fastjsonschema implements.
    schema = {k: v for k, v in ALL[schema_name].items() if k != "$schema"}
    return fastjsonschema.compile(schema)


def conforms(schema_name: str, data) -> bool:
    """True when ``data`` matches the named schema of engine/schemas.py."""
    import fastjsonschema

    try:
        _compiled(schema_name)(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True
