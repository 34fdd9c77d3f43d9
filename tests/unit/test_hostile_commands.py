"""Hostile values cannot add arguments, lines or keys to what the orchestrator runs or
writes for other programs (bad input).

- `lab.commands`: argv lists reach the program exactly as given (a real process echoes them),
  and the command shown in an error message splits back into the same list;
- the image recipe's customize lines reach the chroot's shell as one argument each,
  through mmdebstrap's `sh -c` (a stand-in `chroot` on PATH records what it got);
- the cloud-init seed: YAML that loads back to exactly the values, no key more;
- ssh_config and known_hosts lines: nothing a key comment or name holds starts a line;
- the key comment and file names `ssh-keygen` is given.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from ipaddress import IPv4Interface
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from lab.commands import _show, run
from lab.errors import InvalidError, LabError
from lab.images.build import customize_hooks
from lab.labs import keys
from lab.labs.seed import SeedAccount, SeedInterface, SeedSpec, render_meta_data, render_user_data
from tests.hostile import BOUNDED, Trials, hostile_text
from tests.reliability import record

pytestmark = pytest.mark.reliability

ARGV_TRIALS = Trials()
HOOK_TRIALS = Trials()
SEED_TRIALS = Trials()
KEY_TRIALS = Trials()

# A process that prints the arguments it was given, as JSON.
ECHO = [sys.executable, "-c", "import json, sys; print(json.dumps(sys.argv[1:]))"]


@pytest.fixture(scope="module", autouse=True)
def _record_trials() -> Iterator[None]:
    yield
    record("input", "command lines (lab.commands argv)", ARGV_TRIALS.count, ARGV_TRIALS.lost)
    record("input", "image customize lines (mmdebstrap hooks)", HOOK_TRIALS.count, [])
    record("input", "cloud-init seed values", SEED_TRIALS.count, SEED_TRIALS.lost)
    record("input", "SSH key comments and known_hosts lines", KEY_TRIALS.count, [])


def _arg(text: str) -> str:
    # What an OS argument can be at all: text without lone surrogates.
    return text.encode("utf-8", "replace").decode("utf-8")


ARGS = st.lists(hostile_text(60).map(_arg), min_size=1, max_size=4)


@BOUNDED
@given(args=ARGS)
def test_arguments_reach_the_program_exactly(args: list[str]) -> None:
    ARGV_TRIALS.tick()
    if any("\0" in a for a in args):
        with pytest.raises(InvalidError, match="NUL"):
            run([*ECHO, *args])
        return
    assert shlex.split(_show([*ECHO, *args])) == [*ECHO, *args]  # as error messages show it
    echoed = json.loads(run([*ECHO, *args], timeout=30).stdout)
    assert echoed == args


@pytest.fixture(scope="module")
def fake_chroot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a `chroot` that writes its arguments as JSON instead."""
    bindir = tmp_path_factory.mktemp("bin")
    script = bindir / "chroot"
    script.write_text(
        f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return bindir


@BOUNDED
@given(line=hostile_text(80).map(_arg).filter(lambda s: "\0" not in s))
def test_customize_lines_reach_the_chroot_shell_as_one_argument(
    line: str, fake_chroot: Path
) -> None:
    HOOK_TRIALS.tick()
    (hook,) = customize_hooks([line])
    script = hook.removeprefix("--customize-hook=")
    # How mmdebstrap runs a hook that is not a file: sh -c HOOK exec ROOT.
    env = {**os.environ, "PATH": f"{fake_chroot}:{os.environ['PATH']}"}
    proc = subprocess.run(
        ["sh", "-c", script, "exec", "/srv/root"], env=env, capture_output=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == ["/srv/root", "sh", "-ec", line]


# -- cloud-init seed ---------------------------------------------------------------------

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0 lab"
HOST_KEY = ("-----BEGIN OPENSSH PRIVATE KEY-----\nAA\n-----END OPENSSH PRIVATE KEY-----\n", KEY)


@BOUNDED
@given(
    which=st.sampled_from(("full_name", "hostname", "account", "group", "timezone", "key")),
    value=hostile_text(60),
)
def test_seed_values_load_back_exactly_or_are_refused(which: str, value: str) -> None:
    SEED_TRIALS.tick()
    account = {"name": "olena", "full_name": "Олена", "groups": ("office",)}
    spec = {"hostname": "web1", "timezone": "Europe/Kyiv", "authorized_keys": (KEY,)}
    target = {"full_name": account, "account": account, "hostname": spec, "timezone": spec}
    if which == "group":
        account["groups"] = (value,)
    elif which == "key":
        spec["authorized_keys"] = (value,)
    else:
        target[which]["name" if which == "account" else which] = value
    try:
        seed = SeedSpec(
            instance_id="demo.web1",
            host_key=HOST_KEY,
            accounts=(SeedAccount(**account),),
            interfaces=(
                SeedInterface(mac="52:54:00:aa:bb:cc", address=IPv4Interface("10.0.0.2/24")),
            ),
            **spec,
        )
    except LabError as error:  # refused, with a message and a hint
        assert error.message and error.hint.strip()
        return
    text = render_user_data(seed)
    assert text.startswith("#cloud-config\n")
    data = yaml.safe_load(text)
    assert list(data) == [
        "hostname",
        "preserve_hostname",
        "timezone",
        "users",
        "ssh_pwauth",
        "disable_root",
        "groups",
        "ssh_deletekeys",
        "ssh_genkeytypes",
        "ssh_keys",
    ]
    (admin, user) = data["users"]
    assert (data["hostname"], data["timezone"]) == (seed.hostname, seed.timezone)
    assert (user["name"], user["gecos"], user["groups"]) == (
        seed.accounts[0].name,
        seed.accounts[0].full_name,
        list(seed.accounts[0].groups),
    )
    assert admin["ssh_authorized_keys"] == list(seed.authorized_keys)
    assert set(user) == {
        "name",
        "gecos",
        "shell",
        "ssh_authorized_keys",
        "no_user_group",
        "lock_passwd",
        "groups",
    }
    assert yaml.safe_load(render_meta_data(seed)) == {
        "instance-id": "demo.web1",
        "local-hostname": seed.hostname,
    }


# -- SSH keys ----------------------------------------------------------------------------


@BOUNDED
@given(comment=hostile_text(60), name=hostile_text(30))
def test_key_comments_and_names_cannot_split_lines_or_paths(comment: str, name: str) -> None:
    KEY_TRIALS.tick()
    try:
        keys._check(name, comment)
    except InvalidError:
        return
    assert "/" not in name and name not in (".", "..") and not name.startswith(".")
    assert comment.isprintable()  # no line break: the .pub line stays one line
    line = keys.known_hosts_line("10.250.0.10", f"ssh-ed25519 AAAA {comment}")
    assert line == "10.250.0.10 ssh-ed25519 AAAA"  # the comment never reaches known_hosts


def test_a_nul_in_an_argument_is_refused_before_any_process_starts() -> None:
    """Regression: subprocess raised ValueError ("embedded null byte"), a traceback."""
    with pytest.raises(InvalidError, match="NUL") as caught:
        run(["true", "a\0b"])
    assert caught.value.hint
    (hook,) = customize_hooks(["echo a\0b"])  # a recipe line with one: refused when run
    with pytest.raises(InvalidError):
        run(["mmdebstrap", hook])
