"""How rules read an event's fields: in place, UserData and spaced-name fallbacks for winlog
event data, and the prefilter's fast path agreeing with Doc.strs."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from canh.rules.compile import Doc, Leaf
from canh.rules.logsource import nested_route_key, route_key
from canh.rules.prefilter import atoms_of, build_index

NAMES = ("Image", "Threat Name", "ThreatName", "Path", "Data")
VALUE = st.one_of(
    st.none(),
    st.sampled_from(["C:\\x.exe", "Trojan", "", "y"]),
    st.integers(0, 3),
    st.lists(st.sampled_from(["a", "b"]), max_size=2),
    st.just({}),
    st.just({"k": "v"}),
)
SECTION = st.dictionaries(st.sampled_from(NAMES), VALUE, max_size=4)


def reference(event: dict[str, Any], name: str) -> Any:
    """The lookup as first written: the path, then UserData, then names with spaces removed."""

    def get(path: str) -> Any:
        node: Any = event
        for part in path.split("."):
            if type(node) is not dict:
                return None
            node = node.get(part)
            if node is None:
                return None
        return None if type(node) is dict and node else node

    got = get(name)
    if got is not None or not name.startswith("winlog.event_data."):
        return got
    rest = name[18:]
    got = get("winlog.user_data." + rest)
    if got is not None:
        return got
    spaced = {}
    winlog = event.get("winlog")
    if isinstance(winlog, dict):
        for sect in ("event_data", "user_data"):
            data = winlog.get(sect)
            if isinstance(data, dict):
                for k, v in data.items():
                    if " " in k:
                        spaced[k.replace(" ", "")] = v
    return spaced.get(rest)


@settings(max_examples=300)
@given(st.one_of(st.none(), SECTION), st.one_of(st.none(), SECTION), st.sampled_from(NAMES))
def test_raw_follows_userdata_then_spaced_names(event_data: Any, user_data: Any, name: str) -> None:
    winlog = {k: v for k, v in (("event_data", event_data), ("user_data", user_data)) if v is not None}
    event = {"winlog": winlog}
    field = "winlog.event_data." + name
    assert Doc(event).raw(field) == reference(event, field)


def test_userdata_and_spaced_names() -> None:
    ev = {"winlog": {"event_data": {"Threat Name": "Trojan:X"}, "user_data": {"Path": "C:\\a"}}}
    doc = Doc(ev)
    assert doc.strs("winlog.event_data.Path") == ("C:\\a",)
    assert doc.strs("winlog.event_data.ThreatName") == ("Trojan:X",)
    assert doc.strs("winlog.event_data.Missing") == ()
    both = {"winlog": {"event_data": {"Threat Name": "spaced"}, "user_data": {"ThreatName": "own"}}}
    assert Doc(both).strs("winlog.event_data.ThreatName") == ("own",)


@settings(max_examples=300)
@given(st.one_of(st.none(), SECTION), st.one_of(st.none(), SECTION), st.sampled_from(NAMES))
def test_prefilter_reads_what_doc_reads(event_data: Any, user_data: Any, name: str) -> None:
    winlog = {k: v for k, v in (("event_data", event_data), ("user_data", user_data)) if v is not None}
    event = {"winlog": winlog}
    field = "winlog.event_data." + name.replace(" ", "")
    want = Doc(event).strs(field)
    for value in ("c:\\x.exe", "trojan", "", "y", "0", "1", "a"):
        leaf = Leaf(field, "eq", (value,))
        index = build_index([(0, atoms_of(leaf, {}))], {})
        assert (index.candidates(Doc(event)) == [0]) == (value in [v.lower() for v in want])


ROUTE_VALUE = st.one_of(
    st.none(), st.sampled_from(["system.auth", "sshd", "4688", 4688, "Security"]), st.just({"x": 1})
)


@settings(max_examples=300)
@given(
    st.dictionaries(
        st.sampled_from(["event", "winlog", "process"]),
        st.one_of(
            st.dictionaries(
                st.sampled_from(["dataset", "module", "code", "channel", "event_id", "name"]), ROUTE_VALUE
            ),
            ROUTE_VALUE,
        ),
    )
)
def test_nested_route_key_is_route_key(event: dict[str, Any]) -> None:
    assert nested_route_key(event) == route_key(Doc(event))
