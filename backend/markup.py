"""Merchant Markdown, made safe to put into a page."""

from __future__ import annotations

from functools import lru_cache

import markdown
import nh3

INLINE_TAGS = {"a", "strong", "em", "b", "i", "code", "br", "del", "s"}


# The headline is fixed by the config, but the portal JSON carries it on every request.
@lru_cache(maxsize=8)
def headline_html(source: str) -> str:
    """Markdown as inline HTML: formatting and links only, scripts dropped with their content, links opened safely."""
    html = markdown.markdown(source)
    return nh3.clean(
        html,
        tags=INLINE_TAGS,
        clean_content_tags={"script", "style"},
        attributes={"a": {"href", "title"}},
        url_schemes={"https", "http", "mailto"},
        link_rel="noopener noreferrer",
    ).strip()
