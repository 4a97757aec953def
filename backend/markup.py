"""Merchant Markdown, made safe to put into a page."""

from __future__ import annotations

import markdown
import nh3

INLINE_TAGS = {"a", "strong", "em", "b", "i", "code", "br", "span", "p"}


def headline_html(source: str) -> str:
    """Markdown as sanitised HTML: inline formatting and links only, links opened safely."""
    html = markdown.markdown(source)
    return nh3.clean(html, tags=INLINE_TAGS, attributes={"a": {"href", "title"}}, link_rel="noopener noreferrer")
