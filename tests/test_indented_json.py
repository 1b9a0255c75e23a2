"""explain.indented_json writes what json.dumps(indent=2, ensure_ascii=False) writes."""
from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from explain import indented_json

_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
            | st.text())
_data = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=5) | st.tuples(inner, inner)
                     | st.dictionaries(st.text(), inner, max_size=5), max_leaves=40)


@settings(max_examples=400, deadline=None)
@given(data=_data, margin=st.sampled_from(["", "  ", "    "]))
def test_the_same_text_as_the_standard_library(data, margin):
    expected = json.dumps(data, indent=2, ensure_ascii=False)
    assert indented_json.dumps(data) == expected
    assert indented_json.dumps(data, margin) == expected.replace("\n", "\n" + margin)


def test_values_of_other_types_are_written_as_the_standard_library_writes_them():
    import enum

    class Level(enum.IntEnum):
        HIGH = 3

    class Name(str):
        pass

    data = {"level": Level.HIGH, "name": Name("a\nb"), "nested": [{"x": math.inf}]}
    assert indented_json.dumps(data) == json.dumps(data, indent=2, ensure_ascii=False)


def test_a_key_that_is_not_text_is_refused():
    import pytest

    with pytest.raises(TypeError, match="keys must be text"):
        indented_json.dumps({1: "a"})
