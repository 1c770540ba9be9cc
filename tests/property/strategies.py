"""What the properties draw from: any JSON value, and how many cases each property runs."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# How many cases each property runs comes from the profile conftest.py loads: 1000 in `make test`.
CASES = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
