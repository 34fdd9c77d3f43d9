from ipaddress import IPv4Interface
from pathlib import Path

import yaml

from lab import seed

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB3mJ0bK4jH1oPp3yIu7B2Zr2m8E4v0aKq2y1QJqjQ7K lab"


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
    return base.model_copy(update=changes)


def test_user_data_is_cloud_config_with_exactly_the_given_users() -> None:
    text = seed.render_user_data(_spec())
    assert text.startswith("#cloud-config\n")
    data = yaml.safe_load(text)
    assert [u["name"] for u in data["users"]] == ["labadmin", "olena"]
    assert data["users"][0]["ssh_authorized_keys"] == [KEY]
    assert data["users"][1]["gecos"] == "Олена Коваль"
    assert data["groups"] == ["staff"]
    assert data["ssh_pwauth"] is False
    assert "packages" not in data and "apt" not in data  # guests never fetch anything


def test_hostile_values_stay_plain_strings() -> None:
    evil = 'x"\nruncmd: [rm -rf /]\n{{ boom }}: ]]>'
    account = seed.SeedAccount(name="olena", full_name=evil)
    data = yaml.safe_load(seed.render_user_data(_spec(accounts=(account,))))
    assert set(data) == {
        "hostname",
        "preserve_hostname",
        "timezone",
        "users",
        "ssh_pwauth",
        "disable_root",
    }
    assert data["users"][1]["gecos"] == evil


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
    data = yaml.safe_load(seed.render_user_data(_spec(host_key=("PRIVATE", "ssh-ed25519 PUB"))))
    assert data["ssh_keys"] == {"ed25519_private": "PRIVATE", "ed25519_public": "ssh-ed25519 PUB"}
    assert data["ssh_deletekeys"] is True


def test_seed_iso_has_the_cidata_label_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "seed.iso"
    seed.write_seed(_spec(), path)
    with path.open("rb") as iso:
        iso.seek(16 * 2048)  # ISO 9660 primary volume descriptor
        descriptor = iso.read(2048)
    assert descriptor[1:6] == b"CD001"
    assert descriptor[40:72].decode().strip() == "cidata"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["seed.iso"]  # no temp files left
