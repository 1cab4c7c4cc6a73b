"""What a page shows a person, and the text in it that is in the wrong language: CJK on an
English page, English words on a Chinese page, or a catalogue key printed raw. Pure, except
`page_texts`, which reads a Playwright page."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from playwright.async_api import Page

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff01-\uff5e]+")
"""Han characters, CJK punctuation and full-width forms."""
ENGLISH_WORD = re.compile(r"(?<![A-Za-z0-9_\-./])[A-Za-z][A-Za-z']+(?![A-Za-z0-9_\-])")
"""A word of two or more Latin letters standing alone (not part of a code like xt-119-hz1)."""
RAW_KEY = re.compile(r"(?<![A-Za-z0-9_\-./])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![A-Za-z0-9_\-])")
"""A snake_case word: how catalogue keys (nav_desk, cap_alert) look when printed raw."""

COLLECT_JS = """(lang) => {
  // Text marked with a `lang` attribute of the other language is deliberately in it (the
  // sign-in page's second language); the document's own lang does not count.
  const marked = (el) => {
    const owner = el && el.closest ? el.closest("[lang]") : null;
    if (!owner || owner === document.documentElement) { return false; }
    return !owner.getAttribute("lang").toLowerCase().startsWith(lang);
  };
  const shown = (el) => el && el.checkVisibility ? el.checkVisibility() : true;
  const pieces = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !shown(el) || marked(el)) { continue; }
    if (el.closest("script, style, noscript")) { continue; }
    pieces.push(node.textContent.trim());
  }
  const out = [["document title", document.title], ["visible text", pieces.join("\\n")]];
  const named = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.className && typeof el.className === "string" ? "." + el.className.split(" ")[0] : "");
  for (const el of document.querySelectorAll(
      "[placeholder], [title], [aria-label], [alt], input[type=submit], input[type=button]")) {
    if (el.tagName === "TITLE" || marked(el)) { continue; }
    for (const attr of ["placeholder", "title", "aria-label", "alt"]) {
      const value = el.getAttribute(attr);
      if (value) { out.push([attr + " of " + named(el), value]); }
    }
    if (el.tagName === "INPUT" && (el.type === "submit" || el.type === "button") && el.value) {
      out.push(["value of " + named(el), el.value]);
    }
  }
  return out;
}"""


@dataclass(frozen=True, slots=True)
class Leak:
    """Text in the wrong language (or a raw key) on a page."""

    page: str
    """The page's address."""
    where: str
    """Which text: the visible text, the document title, an attribute of an element."""
    found: str
    """The offending piece."""
    context: str
    """The text around it."""

    def __str__(self) -> str:
        return f"{self.page} · {self.where}: {self.found!r} in …{self.context}…"


async def page_texts(page: Page, lang: str) -> list[tuple[str, str]]:
    """(where, text) for everything a person reads on the page now, leaving out what is
    marked (`lang` attribute) as written in the other language."""
    found: list[list[str]] = await page.evaluate(COLLECT_JS, lang)
    return [(where, text) for where, text in found]


def _context(text: str, start: int, end: int) -> str:
    return text[max(0, start - 30):end + 30].replace("\n", " ⏎ ")


def _without(text: str, allowed: Iterable[str]) -> str:
    for piece in sorted(allowed, key=len, reverse=True):
        text = text.replace(piece, " ")
    return text


def leaks(url: str, lang: str, texts: Iterable[tuple[str, str]], allowed_cjk: Iterable[str],
          allowed_words: Iterable[str], allowed_keys: Iterable[str] = (),
          languages: bool = True) -> list[Leak]:
    """The wrong-language pieces and raw keys in `texts` of a page in `lang` ("zh" or "en").

    `allowed_cjk` are strings allowed on English pages (proper names, data), `allowed_words`
    English strings allowed on Chinese pages (codes, units, names); both are removed before
    the check. `allowed_keys` are snake_case words that are data, not keys. With `languages`
    false (a page in both languages by design) only raw keys are looked for."""
    cjk, words, keys = list(allowed_cjk), list(allowed_words), set(allowed_keys)
    found: list[Leak] = []
    for where, text in texts:
        for match in RAW_KEY.finditer(text):
            if match.group() not in keys:
                found.append(Leak(url, where, match.group(),
                                  _context(text, match.start(), match.end())))
        if not languages:
            continue
        if lang == "en":
            rest = _without(text, cjk)
            found += [Leak(url, where, m.group(), _context(rest, m.start(), m.end()))
                      for m in CJK.finditer(rest)]
        else:
            rest = _without(text, words)
            found += [Leak(url, where, m.group(), _context(rest, m.start(), m.end()))
                      for m in ENGLISH_WORD.finditer(rest)
                      if not RAW_KEY.fullmatch(m.group())]
    return found
