"""The profile's own checks (`tests:` in the YAML) as pytest items, run by `lab test`.

Collected explicitly by lab.software.verification (its name keeps pytest from collecting it
anywhere else); lab.software.verify_plugin parametrizes `host` and `check` over the machines
each check names.
"""

from __future__ import annotations

from typing import Any

from lab.probes import remote
from lab.probes.model import ProbeSpec


def test_profile_check(host: Any, check: dict[str, Any]) -> None:
    result = host.run(check["run"])
    assert result.rc == check["expect_exit"], (
        f"check '{check['name']}' exited {result.rc} (expected {check['expect_exit']}): "
        f"{(result.stderr or result.stdout).strip()[-300:]}"
    )
    if check["expect_output"] is not None:
        assert check["expect_output"] in result.stdout, (
            f"check '{check['name']}': output lacks {check['expect_output']!r}: "
            f"{result.stdout.strip()[-300:]!r}"
        )


def test_profile_probe(host: Any, probe: dict[str, Any]) -> None:
    """A probe of a machine (an appliance, usually), run on the managed machine `host`."""
    spec = ProbeSpec.model_validate(probe["spec"])
    result = host.run(remote.probe_command([spec]))
    (outcome,) = remote.parse_output(result.stdout, [spec])
    assert outcome.ok, f"check '{probe['name']}': {spec.describe()}: {outcome.detail}"
