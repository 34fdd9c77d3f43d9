"""The loader: every broken profile gives located problems, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import InvalidError, NotFoundError
from lab.profile import Problem, ProfileError, Size, load_profile, load_profile_text

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "profiles").glob("*.yaml"))
FIXTURES = Path(__file__).parent / "fixtures" / "profiles"

# A valid profile; each test below breaks one thing (line numbers matter: keep in sync).
GOOD = """\
community:
  name: test
  title: "Тестова громада"
  oblast: "Київська"
  kind: rural
networks:
  - name: office
    cidr: 10.20.0.0/24
machines:
  - name: ws
    image: debian-12
    memory: 512MiB
    nics:
      - network: office
        address: 10.20.0.10
tests:
  - name: alive
    run: "true"
"""


def problems_of(text: str, source: str = "t.yaml") -> tuple[Problem, ...]:
    with pytest.raises(ProfileError) as info:
        load_profile_text(text, source)
    return info.value.problems


def only(text: str) -> tuple[int, int, str, str]:
    """The one problem of `text`, as (line, column, path, message)."""
    found = problems_of(text)
    assert len(found) == 1, [str(p) for p in found]
    p = found[0]
    assert p.file == "t.yaml"
    return p.line, p.column, p.path, p.message


def test_good_profile_loads() -> None:
    profile = load_profile_text(GOOD, "t.yaml")
    assert profile.machines[0].memory == Size.parse("512MiB")
    assert str(profile.machines[0].nics[0].address) == "10.20.0.10"


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_samples_validate(path: Path) -> None:
    profile = load_profile(path)
    assert profile.abstract == path.name.startswith("_")
    for machine in profile.machines:
        if machine.appliance is not None:
            continue  # it runs what a community handed over, with the memory it needs
        assert machine.image == "debian-12"
        assert Size.parse("512MiB") <= machine.memory <= Size.parse("1GiB")


def test_tiny_and_pair_are_what_integration_tests_expect() -> None:
    tiny = load_profile(ROOT / "profiles" / "tiny.yaml")
    assert [m.name for m in tiny.machines] == ["m1"]
    assert tiny.machines[0].vcpus == 1 and tiny.machines[0].memory.mib == 512
    assert str(tiny.networks[0].cidr) == "10.77.0.0/24"
    assert [(c.run, c.quick) for c in tiny.tests] == [("true", True)]
    pair = load_profile(ROOT / "profiles" / "pair.yaml")
    addresses = {m.name: str(m.nics[0].address) for m in pair.machines}
    assert addresses == {"a": "10.78.0.10", "b": "10.78.0.11"}


def test_unknown_key_points_at_the_key() -> None:
    text = GOOD.replace("    image: debian-12\n", "    image: debian-12\n    colour: red\n")
    line, column, path, message = only(text)
    assert (line, column, path) == (12, 5, "machines[0].colour")
    assert message.startswith("unknown key 'colour' (allowed: name, image, vcpus, memory")


def test_missing_key_points_at_the_parent_mapping() -> None:
    text = GOOD.replace("    image: debian-12\n", "")
    assert only(text) == (10, 5, "machines[0].image", "missing required key 'image'")


def test_missing_network() -> None:
    text = GOOD.replace("      - network: office", "      - network: lan")
    assert only(text) == (
        14,
        18,
        "machines[0].nics[0].network",
        "unknown network 'lan' (defined here: office)",
    )


def test_duplicate_machine() -> None:
    text = GOOD.replace(
        "tests:",
        "  - name: ws\n    image: debian-12\n    memory: 512MiB\n"
        "    nics: [{network: office}]\ntests:",
    )
    assert only(text) == (
        16,
        11,
        "machines[1].name",
        "duplicate machine name 'ws' (already used by machines[0])",
    )


def test_bad_address() -> None:
    text = GOOD.replace("10.20.0.10", "10.0.0.300")
    assert only(text) == (
        15,
        18,
        "machines[0].nics[0].address",
        "'10.0.0.300' is not an IPv4 address",
    )
    assert str(problems_of(text)[0]) == (
        "t.yaml:15:18 machines[0].nics[0].address: '10.0.0.300' is not an IPv4 address"
    )


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("10.21.0.10", "is not inside network 'office' (10.20.0.0/24)"),
        ("10.20.0.0", "is the network address"),
        ("10.20.0.255", "is the broadcast address"),
        ("10.20.0.1", "is the host's own address"),
    ],
)
def test_reserved_and_outside_addresses(address: str, words: str) -> None:
    line, column, path, message = only(GOOD.replace("10.20.0.10", address))
    assert (line, column, path) == (15, 18, "machines[0].nics[0].address")
    assert words in message


@pytest.mark.parametrize(
    ("size", "words"),
    [
        ("512", "512 has no unit: write 512MiB or 512GiB"),
        ("512M", "'512M': 'M' is not an IEC unit; write 512MiB"),
        ("512MB", "'512MB': 'MB' is not an IEC unit; write 512MiB"),
        ("lots", "'lots' is not a size"),
        ("128MiB", "128MiB is out of range: allowed 256MiB to 64GiB"),
        ("100GiB", "100GiB is out of range"),
    ],
)
def test_bad_size(size: str, words: str) -> None:
    line, column, path, message = only(GOOD.replace("memory: 512MiB", f"memory: {size}"))
    assert (line, column, path) == (12, 13, "machines[0].memory")
    assert words in message


def test_yaml_syntax_error_uses_the_yaml_mark() -> None:
    text = GOOD.replace("    cidr: 10.20.0.0/24", "    cidr: [10.20.0.0/24")
    line, column, path, message = only(text)
    assert (line, column, path) == (9, 9, "")  # PyYAML's mark: where it gave up
    assert message.startswith("not valid YAML: expected ',' or ']', but got ':'")
    assert "(while parsing a flow sequence at line 8)" in message


def test_bad_indentation_is_a_syntax_error() -> None:
    text = GOOD.replace("    memory: 512MiB", "     memory: 512MiB")
    line, column, path, message = only(text)
    assert (line, column, path) == (12, 12, "")
    assert message == "not valid YAML: mapping values are not allowed here"


def test_tab_indentation_is_a_syntax_error() -> None:
    line, column, path, message = only("community:\n\tname: x\n")
    assert (line, column, path) == (2, 1, "")
    assert "not valid YAML" in message


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "---\n"])
def test_empty_file(text: str) -> None:
    line, column, path, message = only(text)
    assert (line, column, path) == (1, 1, "")
    assert message.startswith("the file is empty")


def test_list_at_top_level() -> None:
    line, column, path, message = only("- name: ws\n")
    assert (line, column, path) == (1, 1, "")
    assert "but the file holds a list" in message


def test_list_where_a_mapping_belongs() -> None:
    text = GOOD.replace('  name: test\n  title: "Тестова громада"', "  - name: test\n  - title: x")
    text = text.replace('  oblast: "Київська"\n  kind: rural\n', "")
    assert only(text) == (2, 3, "community", "expected a mapping (key: value lines), got a list")


def test_duplicate_yaml_key() -> None:
    text = GOOD.replace("    memory: 512MiB\n", "    memory: 512MiB\n    memory: 1GiB\n")
    assert only(text) == (
        13,
        5,
        "machines[0].memory",
        "duplicate key 'memory' (first given at line 12)",
    )


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "cp1251.yaml"
    path.write_bytes(GOOD.encode("cp1251"))  # what an old Windows editor saves
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.column, problem.path) == (str(path), 3, 11, "")
    assert "not UTF-8" in problem.message


def test_all_problems_of_a_file_together() -> None:
    text = GOOD.replace("10.20.0.10", "10.0.0.300").replace("kind: rural", "kind: town")
    text = text.replace("    image: debian-12\n", "    image: debian-12\n    vcpus: 40\n")
    found = problems_of(text)
    assert [(p.line, p.path) for p in found] == [
        (5, "community.kind"),
        (12, "machines[0].vcpus"),
        (16, "machines[0].nics[0].address"),
    ]
    assert found[0].message == "'town' is not one of: rural, urban, settlement or education"
    assert found[1].message == "must be at most 16, got 40"


def test_cross_checks_reported_with_field_errors() -> None:
    text = GOOD.replace("memory: 512MiB", "memory: 512").replace("network: office", "network: x")
    assert [p.path for p in problems_of(text)] == [
        "machines[0].memory",
        "machines[0].nics[0].network",
    ]


def test_overlapping_networks_and_duplicate_addresses() -> None:
    text = GOOD.replace(
        "machines:",
        "  - name: lan\n    cidr: 10.20.0.0/16\nmachines:",
    ).replace(
        "tests:",
        "  - name: ws2\n    image: debian-12\n    memory: 512MiB\n"
        "    nics: [{network: office, address: 10.20.0.10}]\ntests:",
    )
    found = problems_of(text)
    assert [(p.line, p.column, p.path) for p in found] == [
        (10, 11, "networks[1].cidr"),
        (21, 39, "machines[1].nics[0].address"),
    ]
    assert "overlaps 10.20.0.0/24 of network 'office'" in found[0].message
    assert found[1].message == "10.20.0.10 is already used by machines[0].nics[0]"


def test_unknown_test_machine_and_non_abstract_needs() -> None:
    text = "tests:\n  - name: t\n    machine: nobody\n    run: 'true'\n"
    assert [(p.line, p.column, p.path) for p in problems_of(text)] == [
        (1, 1, "community"),
        (1, 1, "machines"),
        (3, 14, "tests[0].machine"),
    ]


def test_profile_error_message_and_hint() -> None:
    with pytest.raises(ProfileError) as info:
        load_profile_text(GOOD.replace("10.20.0.10", "10.0.0.300"), "t.yaml")
    error = info.value
    assert isinstance(error, InvalidError)
    assert error.message.splitlines()[1].strip() == str(error.problems[0])
    assert "lab profile schema" in error.hint


# -- extends ------------------------------------------------------------------------------


def test_extends_merges_by_name() -> None:
    profile = load_profile(FIXTURES / "child.yaml")
    assert not profile.abstract
    assert profile.community is not None
    assert (profile.community.name, profile.community.title) == ("child", "Базова громада")
    assert profile.community.kind == "urban"
    assert [m.name for m in profile.machines] == ["ws", "srv"]
    assert profile.machines[0].memory.gib == 1
    assert [a.name for a in profile.accounts] == ["admin"]
    assert [t.name for t in profile.tests] == ["alive", "srv-only"]
    assert [n.name for n in profile.networks] == ["net"]


def test_extends_chain_through_directories() -> None:
    profile = load_profile(FIXTURES / "nested" / "grandchild.yaml")
    assert profile.community is not None and profile.community.name == "grandchild"
    assert [m.name for m in profile.machines] == ["ws", "srv"]


def test_extends_cycle_names_the_chain() -> None:
    with pytest.raises(ProfileError) as info:
        load_profile(FIXTURES / "cycle-a.yaml")
    (problem,) = info.value.problems
    a, b = str(FIXTURES / "cycle-a.yaml"), str(FIXTURES / "cycle-b.yaml")
    assert (problem.file, problem.line, problem.column, problem.path) == (b, 2, 10, "extends")
    assert problem.message == f"extends cycle: {a} -> {b} -> {a}"


def test_extends_missing_file() -> None:
    with pytest.raises(ProfileError) as info:
        load_profile(FIXTURES / "extends-missing.yaml")
    (problem,) = info.value.problems
    assert (problem.line, problem.column, problem.path) == (2, 10, "extends")
    assert problem.message == f"base profile {FIXTURES / 'no-such-base.yaml'} does not exist"


def test_problem_in_base_names_the_base_file() -> None:
    with pytest.raises(ProfileError) as info:
        load_profile(FIXTURES / "child-of-broken.yaml")
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.column) == (
        str(FIXTURES / "base-broken.yaml"),
        4,
        11,
    )
    assert problem.path == "accounts[0].kind"


def test_extends_in_text_needs_a_base_dir() -> None:
    text = "extends: child.yaml\ncommunity:\n  name: upload\n"
    line, column, path, message = only(text)
    assert (line, column, path) == (1, 10, "extends")
    assert "not allowed" in message
    profile = load_profile_text(text, "upload.yaml", base_dir=FIXTURES)
    assert profile.community is not None and profile.community.name == "upload"


def test_missing_profile_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        load_profile(tmp_path / "absent.yaml")


def test_uploaded_bytes_must_be_utf8() -> None:
    with pytest.raises(ProfileError) as info:
        load_profile_text(b"community:\n  title: \xff\n", "upload.yaml")
    (problem,) = info.value.problems
    assert (problem.line, problem.column) == (2, 10)


def test_full_name_that_would_corrupt_passwd_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "fn.yaml"
    path.write_text(
        "community: {name: fn, title: T, oblast: O, kind: rural}\n"
        "networks: [{name: n, cidr: 10.1.0.0/24}]\n"
        "machines: [{name: m, image: i, memory: 512MiB, nics: [{network: n}]}]\n"
        "accounts:\n"
        '  - {name: olena, full_name: "Олена: адмін", kind: staff}\n'
    )
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    (problem,) = info.value.problems
    assert (problem.line, problem.path) == (5, "accounts[0].full_name")
    assert "cannot contain ':'" in problem.message
