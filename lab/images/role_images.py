"""Offline by design: everything a profile's roles need is baked into images beforehand.

Guests never reach a package mirror. `lab prepare PROFILE` builds, for every machine
with roles, its base recipe plus the packages those roles declare, as an image of its
own (named after the base and a digest of the package set, so machines with the same
roles share it, and an unchanged set is a cache hit). `lab up` then only needs the image
store: the roles' `apt` tasks find everything installed and touch no network.

Why baked images rather than a package repository served to the lab networks: under
TCG, dpkg inside the guest is ten times slower than on the host; a repository would be
one more host service reachable from trainees' guests; and the same image serves every
seat of a class.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from lab.base import Progress
from lab.errors import InvalidError, LabError, NotFoundError
from lab.images.model import Boot, Image
from lab.images.recipe import Recipe, load_recipe
from lab.images.store import ImageStore
from lab.profile import Machine, Profile
from lab.settings import Settings
from lab.software import roles


def role_image_name(base: str, packages: tuple[str, ...]) -> str:
    """`debian-12` + packages -> `debian-12.roles-1a2b3c4d` (pure, stable)."""
    digest = hashlib.sha256("\n".join(sorted(packages)).encode()).hexdigest()[:8]
    return f"{base}.roles-{digest}"


def role_recipe(base: Recipe, packages: tuple[str, ...]) -> Recipe:
    """The base recipe with the roles' packages added (pure)."""
    extra = tuple(p for p in sorted(set(packages)) if p not in base.packages)
    return base.model_copy(
        update={"name": role_image_name(base.name, packages), "packages": base.packages + extra}
    )


def find_recipe(recipes_dir: Path, name: str) -> Recipe:
    """The recipe in `recipes_dir` that builds the image `name`."""
    direct = recipes_dir / f"{name}.yaml"
    candidates = [direct] if direct.is_file() else sorted(recipes_dir.glob("*.yaml"))
    for path in candidates:
        try:
            recipe = load_recipe(path)
        except LabError:
            continue
        if recipe.name == name:
            return recipe
    raise NotFoundError(
        f"image '{name}' has no recipe in {recipes_dir}, so roles' packages cannot be baked "
        "onto it",
        hint="use an image built from a recipe (images/*.yaml) for machines with roles, "
        "or set LAB_RECIPES_DIR",
    )


def machine_image_name(settings: Settings, machine: Machine) -> str:
    """The image a machine boots from: its profile image, or the roles image made from it."""
    packages = roles.packages_for(settings.playbooks_dir, machine)
    return role_image_name(machine.image, packages) if packages else machine.image


def with_role_images(settings: Settings, profile: Profile) -> Profile:
    """The profile with every machine's image replaced by the image it really boots."""
    roles.check_profile(settings.playbooks_dir, profile)
    machines = tuple(
        m.model_copy(update={"image": machine_image_name(settings, m)}) for m in profile.machines
    )
    return profile.model_copy(update={"machines": machines})


def prepare(settings: Settings, profile: Profile, progress: Progress) -> dict[str, Image]:
    """Build (or find cached) every image the profile's machines boot; machine -> image."""
    roles.check_profile(settings.playbooks_dir, profile)
    store = ImageStore(settings)
    built: dict[str, Image] = {}
    out: dict[str, Image] = {}
    for machine in profile.machines:
        packages = roles.packages_for(settings.playbooks_dir, machine)
        name = machine_image_name(settings, machine)
        if name not in built:
            if not packages:
                built[name] = store.get(name)
                progress(machine.name, f"image {name}: no role packages, nothing to bake")
            else:
                base = find_recipe(settings.recipes_dir, machine.image)
                recipe = role_recipe(base, packages)
                progress(
                    machine.name,
                    f"image {name}: {base.name} + {len(packages)} packages of roles "
                    f"{', '.join(machine.roles)}",
                )

                def note(message: str, subject: str = machine.name) -> None:
                    progress(subject, message)

                built[name] = store.build_recipe(recipe, f"{base.name} + roles", note)
        out[machine.name] = built[name]
    return out


def images_for(settings: Settings, profile: Profile) -> dict[str, Image]:
    """The stored images a (role-resolved) profile boots, by image name; says what to do
    when `lab prepare` has not been run."""
    store = ImageStore(settings)
    images: dict[str, Image] = {}
    wanted = [(m, m.image) for m in profile.machines]
    wanted += [(m, d) for m in profile.machines if m.appliance for d in m.appliance.extra_disks]
    for machine, name in wanted:
        if name in images:
            continue
        try:
            images[name] = store.get(name)
        except NotFoundError as exc:
            if ".roles-" not in name:
                raise
            raise NotFoundError(
                f"machine '{machine.name}' needs image {name} (its roles' packages "
                "baked in), which is not built yet",
                hint="prepare the profile first (it needs the Debian mirror, once): "
                "lab prepare PROFILE",
            ) from exc
    for machine in profile.machines:
        image = images[machine.image]
        if machine.appliance is not None and image.firmware not in (
            None,
            machine.appliance.firmware.value,
        ):
            raise InvalidError(
                f"appliance '{machine.name}' has firmware {machine.appliance.firmware}, but"
                f" its image {machine.image} boots with {image.firmware} only (its partition"
                " table says so)",
                hint=f"give the machine `firmware: {image.firmware}` in the profile",
            )
        if machine.appliance is not None and image.boot is not Boot.BOOTLOADER:
            raise InvalidError(
                f"appliance '{machine.name}' needs a disk that boots by its own bootloader;"
                f" image {machine.image} is one the lab built, booted by the lab's kernel",
                hint="import the machine the community handed over (lab image import FILE),"
                " or make it a managed machine (remove `appliance:`)",
            )
    return images
