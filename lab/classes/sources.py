"""What a class can be made from: the catalogue's valid profiles and the templates. A
trainer who makes a class picks one of these (they may not read the profiles or the
templates themselves)."""

from __future__ import annotations

from lab.base import Frozen
from lab.profile import catalogue
from lab.settings import Settings
from lab.templates import templates


class ProfileSource(Frozen):
    name: str
    title: str


class TemplateSource(Frozen):
    name: str
    profile: str


class ClassSources(Frozen):
    profiles: tuple[ProfileSource, ...]
    templates: tuple[TemplateSource, ...]


def class_sources(settings: Settings) -> ClassSources:
    return ClassSources(
        profiles=tuple(
            ProfileSource(name=p.name, title=p.title)
            for p in catalogue.list_profiles(settings)
            if p.valid
        ),
        templates=tuple(
            TemplateSource(name=t.name, profile=t.profile)
            for t in templates.list_templates(settings)
        ),
    )
