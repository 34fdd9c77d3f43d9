"""Community profiles: the YAML description of a hromada's IT stack, as frozen models.

    from lab.profile import load_profile
    profile = load_profile("profiles/rural-hromada.yaml")   # ProfileError if invalid
    for machine in profile.machines: ...

Pure code but the catalogue (catalogue.py: the profiles in LAB_PROFILES_DIR, for the API):
nothing else here touches libvirt, the network or anything but the YAML files.
"""

from lab.profile.loader import load_profile, load_profile_text, profile_json_schema
from lab.profile.models import (
    Account,
    AccountKind,
    Check,
    Community,
    CommunityKind,
    Machine,
    Network,
    Nic,
    Profile,
)
from lab.profile.problems import Problem, ProfileError
from lab.profile.types import Size

__all__ = [
    "Account",
    "AccountKind",
    "Check",
    "Community",
    "CommunityKind",
    "Machine",
    "Network",
    "Nic",
    "Problem",
    "Profile",
    "ProfileError",
    "Size",
    "load_profile",
    "load_profile_text",
    "profile_json_schema",
]
