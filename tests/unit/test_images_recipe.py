"""Recipe validation and cache keys (pure, no subprocesses)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import InvalidError
from lab.images import cache_key, load_recipe

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "images" / "debian-12.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return path


def base_text() -> str:
    return BASE.read_text()


def test_base_recipe_is_valid() -> None:
    recipe = load_recipe(BASE)
    assert recipe.name == "debian-12"
    assert recipe.suite == "bookworm"
    assert int(recipe.size) == 3 * 1024**3
    assert "qemu-guest-agent" in recipe.packages
    assert "root=/dev/vda" in recipe.cmdline


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda t: t + "colour: blue\n", "colour"),
        (lambda t: t.replace("size: 3GiB", "size: lots"), "size"),
        (lambda t: t.replace("size: 3GiB", "size: 10MiB"), "size"),
        (lambda t: t.replace("  - cloud-init\n", ""), "packages"),
        (lambda t: t.replace("  - linux-image-cloud-amd64\n", ""), "packages"),
        (lambda t: t.replace("name: debian-12", "name: Debian 12"), "name"),
        (lambda t: t.replace("variant: apt", "variant: fat"), "variant"),
        (lambda t: t.replace("  - sudo\n", "  - 'sudo; rm -rf /'\n"), "packages."),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, change: object, key: str) -> None:
    path = write(tmp_path, change(base_text()))  # type: ignore[operator]
    with pytest.raises(InvalidError) as exc:
        load_recipe(path)
    assert str(path) in exc.value.message
    assert f": {key}" in exc.value.message
    assert exc.value.hint


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(InvalidError, match="not valid YAML"):
        load_recipe(write(tmp_path, "name: [unclosed\n"))
    with pytest.raises(InvalidError, match="mapping"):
        load_recipe(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(InvalidError, match="cannot read"):
        load_recipe(tmp_path / "missing.yaml")


def test_recipe_is_frozen() -> None:
    recipe = load_recipe(BASE)
    with pytest.raises(ValueError, match="frozen"):
        recipe.name = "other"  # type: ignore[misc]


def test_cache_key_is_stable(tmp_path: Path) -> None:
    a = load_recipe(BASE)
    # Same content, other key order, comments and size spelling: same key.
    reordered = "\n".join(reversed(base_text().split("packages:")[0].splitlines()))
    text = reordered + "\npackages:" + base_text().split("packages:")[1]
    b = load_recipe(write(tmp_path, "# comment\n" + text.replace("3GiB", "3072MiB")))
    assert cache_key(a, "") == cache_key(b, "")
    assert len(cache_key(a, "")) == 64
    assert cache_key(a, "") != cache_key(a, "http://mirror.example/debian")
    c = load_recipe(write(tmp_path, base_text() + "customize: ['true']\n"))
    assert cache_key(a, "") != cache_key(c, "")
