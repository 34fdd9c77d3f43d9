"""A task's instructions as HTML: Markdown without raw HTML, links to http(s) only."""

from __future__ import annotations

import pytest

from lab.courses.markdown import allowed_link, to_html


def test_markdown_is_rendered() -> None:
    html = to_html("# Тека\n\nСтворіть `/srv/share` **зараз**.\n\n- один\n- два\n")
    assert "<h1>Тека</h1>" in html
    assert "<code>/srv/share</code>" in html and "<strong>зараз</strong>" in html
    assert "<li>один</li>" in html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="https://x" onclick="alert(1)">x</a>',
        "<iframe src=https://evil></iframe>",
        "text <b onmouseover=alert(1)>bold</b>",
    ],
)
def test_raw_html_is_text(text: str) -> None:
    html = to_html(text)
    for tag in ("<script", "<img", "<a ", "<iframe", "<b "):
        assert tag not in html
    assert "&lt;" in html


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "vbscript:msgbox",
        "data:text/html;base64,PHNjcmlwdD4=",
        "file:///etc/passwd",
        "/relative/page",
        "//evil.example/x",
    ],
)
def test_only_http_links(url: str) -> None:
    assert not allowed_link(url)
    for text in (f"[x]({url})", f"![x]({url})", f"<{url}>"):
        html = to_html(text)
        assert "href=" not in html and "src=" not in html, html


def test_http_links_open_apart_and_cannot_break_out() -> None:
    html = to_html('[ok](https://wiki.example/a "t") [q](https://x"onmouseover="y)')
    assert 'href="https://wiki.example/a"' in html
    assert 'rel="noopener noreferrer nofollow"' in html and 'target="_blank"' in html
    assert '"onmouseover' not in html


def test_pure() -> None:
    assert to_html("*a*") == to_html("*a*") == "<p><em>a</em></p>\n"
