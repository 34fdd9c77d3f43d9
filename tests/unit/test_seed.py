import subprocess
from ipaddress import IPv4Interface
from pathlib import Path

import pytest
import yaml

from lab.errors import InvalidError
from lab.labs import seed

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB3mJ0bK4jH1oPp3yIu7B2Zr2m8E4v0aKq2y1QJqjQ7K lab"
EVIL = 'x"\nruncmd: [rm -rf /]\n{{ boom }}: ]]>'
TOP_KEYS = {"hostname", "preserve_hostname", "timezone", "users", "ssh_pwauth", "disable_root"}


def _spec(**changes: object) -> seed.SeedSpec:
    base = seed.SeedSpec(
        hostname="m1",
        instance_id="demo.m1",
        authorized_keys=(KEY,),
        accounts=(seed.SeedAccount(name="olena", full_name="Олена Коваль", groups=("staff",)),),
        interfaces=(
            seed.SeedInterface(mac="52:54:00:aa:bb:cc", address=IPv4Interface("10.77.0.10/24")),
        ),
    )
    return seed.SeedSpec.model_validate({**dict(base), **changes})


def test_user_data_is_cloud_config_with_exactly_the_given_users() -> None:
    text = seed.render_user_data(_spec())
    assert text.startswith("#cloud-config\n")
    data = yaml.safe_load(text)
    assert [u["name"] for u in data["users"]] == ["labadmin", "olena"]
    admin, olena = data["users"]
    assert admin["ssh_authorized_keys"] == [KEY]
    assert admin["sudo"] == "ALL=(ALL) NOPASSWD:ALL" and admin["lock_passwd"] is True
    assert olena["gecos"] == "Олена Коваль"
    assert olena["groups"] == ["staff"] and "sudo" not in olena
    assert olena["ssh_authorized_keys"] == [] and olena["lock_passwd"] is True
    assert data["groups"] == ["staff"]
    assert data["ssh_pwauth"] is False and data["disable_root"] is True
    assert data["timezone"] == "Europe/Kyiv"
    assert set(data) == TOP_KEYS | {"groups"}  # no packages, apt, runcmd: nothing online


def test_meta_data_names_the_instance() -> None:
    data = yaml.safe_load(seed.render_meta_data(_spec()))
    assert data == {"instance-id": "demo.m1", "local-hostname": "m1"}


def test_hostile_values_stay_plain_strings_even_unvalidated() -> None:
    # model_construct skips validation: the YAML layer alone must hold the line.
    account = seed.SeedAccount.model_construct(
        name="olena", full_name=EVIL, groups=(), sudo=False, password_hash=None, ssh_keys=()
    )
    spec = seed.SeedSpec.model_construct(
        **{**dict(_spec()), "hostname": EVIL, "instance_id": EVIL, "accounts": (account,)}
    )
    data = yaml.safe_load(seed.render_user_data(spec))
    assert set(data) == TOP_KEYS
    assert data["hostname"] == EVIL
    assert data["users"][1]["gecos"] == EVIL
    assert data["users"][1]["name"] == "olena"
    meta = yaml.safe_load(seed.render_meta_data(spec))
    assert meta == {"instance-id": EVIL, "local-hostname": EVIL}


@pytest.mark.parametrize(
    "full_name", ['Іван "Ваня" О\'Браєн', "{{ ansible_user }}", "Ґанна — Їжак 🙂", "#not a comment"]
)
def test_unusual_full_names_are_kept_verbatim(full_name: str) -> None:
    account = seed.SeedAccount(name="ivan", full_name=full_name)
    data = yaml.safe_load(seed.render_user_data(_spec(accounts=(account,))))
    assert data["users"][1]["gecos"] == full_name
    assert set(data) == TOP_KEYS


@pytest.mark.parametrize("full_name", [EVIL, "a:b", "tab\there"])
def test_full_names_that_would_break_passwd_are_refused(full_name: str) -> None:
    with pytest.raises(InvalidError, match="full name of account 'olena'"):
        seed.SeedAccount(name="olena", full_name=full_name)


@pytest.mark.parametrize(
    "changes",
    [
        {"hostname": "m1\nruncmd: [x]"},
        {"hostname": "M_1"},
        {"admin_user": "root:x"},
        {"timezone": "Europe/Kyiv\nruncmd: x"},
        {"authorized_keys": (KEY + "\nssh-ed25519 AAAA other",)},
        {"instance_id": "a\nb"},
    ],
)
def test_hostile_spec_values_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidError):
        _spec(**changes)


def test_an_account_cannot_take_the_management_users_name() -> None:
    with pytest.raises(InvalidError, match="management user"):
        _spec(accounts=(seed.SeedAccount(name="labadmin"),))


def test_accounts_get_their_groups_sudo_and_console_password() -> None:
    hashed = seed.hash_password("Пароль-1")
    accounts = (
        seed.SeedAccount(name="admin1", groups=("adm", "staff"), sudo=True, password_hash=hashed),
        seed.SeedAccount(name="teacher", groups=("staff", "school"), ssh_keys=(KEY,)),
    )
    data = yaml.safe_load(seed.render_user_data(_spec(accounts=accounts)))
    admin1, teacher = data["users"][1:]
    assert admin1["sudo"] == "ALL=(ALL) NOPASSWD:ALL"
    assert admin1["passwd"] == hashed and admin1["lock_passwd"] is False
    assert teacher["ssh_authorized_keys"] == [KEY] and "passwd" not in teacher
    assert data["groups"] == ["adm", "school", "staff"]
    assert data["ssh_pwauth"] is False  # passwords are for the console only


def test_hash_password_is_salted_sha512_crypt() -> None:
    first = seed.hash_password("Пароль-1")
    assert first.startswith("$6$") and first != seed.hash_password("Пароль-1")
    salt = first.split("$")[2]
    again = subprocess.run(
        ["openssl", "passwd", "-6", "-salt", salt, "-stdin"],
        input="Пароль-1\n".encode(),
        capture_output=True,
        check=True,
    )
    assert again.stdout.decode().strip() == first


@pytest.mark.parametrize("password", ["", "two\nlines"])
def test_hash_password_refuses_what_it_cannot_hash_faithfully(password: str) -> None:
    with pytest.raises(InvalidError):
        seed.hash_password(password)


@pytest.mark.parametrize("bad", ["plain-text", "$6$salt$hash:x", "$6$a$b\nc"])
def test_password_hash_must_be_a_crypt_string(bad: str) -> None:
    with pytest.raises(InvalidError, match="crypt"):
        seed.SeedAccount(name="olena", password_hash=bad)


def test_network_config_matches_nics_by_mac_with_static_addresses() -> None:
    data = yaml.safe_load(seed.render_network_config(_spec()))
    assert data == {
        "version": 2,
        "ethernets": {
            "nic0": {
                "match": {"macaddress": "52:54:00:aa:bb:cc"},
                "addresses": ["10.77.0.10/24"],
                "dhcp4": False,
                "dhcp6": False,
                "accept-ra": False,
            }
        },
    }


def test_host_key_is_handed_to_cloud_init() -> None:
    private = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
    data = yaml.safe_load(seed.render_user_data(_spec(host_key=(private, "ssh-ed25519 PUB"))))
    assert data["ssh_keys"] == {"ed25519_private": private, "ed25519_public": "ssh-ed25519 PUB"}
    assert data["ssh_deletekeys"] is True
    assert data["ssh_genkeytypes"] == []


def _iso_files(path: Path) -> list[str]:
    listing = subprocess.run(
        ["isoinfo", "-i", str(path), "-R", "-f"], capture_output=True, check=True, text=True
    )
    return sorted(listing.stdout.split())


def _iso_file(path: Path, name: str) -> str:
    out = subprocess.run(
        ["isoinfo", "-i", str(path), "-R", "-x", f"/{name}"], capture_output=True, check=True
    )
    return out.stdout.decode()


def test_seed_iso_has_the_cidata_label_the_documents_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "seed.iso"
    spec = _spec()
    seed.write_seed(spec, path)
    with path.open("rb") as iso:
        iso.seek(16 * 2048)  # ISO 9660 primary volume descriptor (offset 32768)
        descriptor = iso.read(2048)
    assert descriptor[1:6] == b"CD001"
    assert descriptor[40:72].decode().strip() == "cidata"  # volume id at offset 32808
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["seed.iso"]  # no temp files left
    assert _iso_files(path) == ["/meta-data", "/network-config", "/user-data"]
    assert _iso_file(path, "user-data") == seed.render_user_data(spec)
    assert _iso_file(path, "meta-data") == seed.render_meta_data(spec)


def test_seed_without_interfaces_leaves_the_network_to_the_image(tmp_path: Path) -> None:
    path = tmp_path / "seed.iso"
    seed.write_seed(_spec(interfaces=()), path)
    assert _iso_files(path) == ["/meta-data", "/user-data"]


def test_rewriting_a_seed_replaces_it(tmp_path: Path) -> None:
    path = tmp_path / "seed.iso"
    seed.write_seed(_spec(), path)
    seed.write_seed(_spec(hostname="m2"), path)
    assert "hostname: m2" in _iso_file(path, "user-data")
