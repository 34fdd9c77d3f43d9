"""A task's instructions (Markdown, written by the Centre) as HTML a browser may show.

CommonMark through markdown-it-py, with raw HTML off: a `<script>` or an `onclick=` in the
text comes out as text, escaped. Links and images may point only at http(s) addresses (no
`javascript:`, `data:` or `file:`; relative ones neither: the page that shows them is the
lab's own); any other is left as plain text. Links open apart from the lab's page.
Pure: the same text gives the same HTML.
"""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

_SCHEMES = ("http://", "https://")


def allowed_link(url: str) -> bool:
    """Whether a link (or image) may point at `url`: an absolute http(s) address."""
    return url.strip().lower().startswith(_SCHEMES)


def _link_open(
    self: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
    tokens[idx].attrSet("target", "_blank")
    return self.renderToken(tokens, idx, options, env)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.validateLink = allowed_link  # type: ignore[method-assign]
    md.add_render_rule("link_open", _link_open)
    return md


def to_html(text: str) -> str:
    """The HTML of Markdown `text`: no raw HTML, links to http(s) only."""
    html: str = _parser().render(text)
    return html
